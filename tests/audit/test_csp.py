"""Reading policies and suggesting one from the resources a page loads."""

from __future__ import annotations

from floodwall.audit.csp import parse_policy, policies, suggest_policy

PAGE_URL = "https://shop.example/catalog/"
# Hashes computed independently: printf 'alert(1)' | openssl dgst -sha256 -binary | base64
ALERT_HASH = "'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='"
HANDLER_HASH = "'sha256-bnQkgwAfjTxnZSlFxZe1ogJadBHLnRuuL54WC+v+tMY='"  # doSomething()
STYLE_HASH = "'sha256-FcQqt3aNlV7AZnGV4zkQRVeCeJOxbMPnQSx258L803E='"  # body{color:red}


def directives(policy: str) -> dict[str, list[str]]:
    return parse_policy(policy)


def test_parse_policy_lowercases_names_and_keeps_the_first_of_a_repeated_directive() -> None:
    parsed = parse_policy("Default-Src 'self'; script-src a.example; script-src *;;")
    assert parsed == {"default-src": ["'self'"], "script-src": ["a.example"]}


def test_policies_splits_comma_separated_policies_across_header_values() -> None:
    found = policies(["default-src 'self', script-src 'none'", "img-src *"])
    assert found == [{"default-src": ["'self'"]}, {"script-src": ["'none'"]},
                     {"img-src": ["*"]}]


def test_a_page_without_resources_gets_the_strict_baseline() -> None:
    assert suggest_policy("<p>hello</p>", PAGE_URL) == (
        "default-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'self'")


def test_origins_are_collected_per_resource_type() -> None:
    html = """
    <link rel="stylesheet" href="https://cdn.example/site.css">
    <link rel="preload" as="font" href="https://fonts.example/a.woff2">
    <link rel="preconnect" href="https://api.example">
    <link rel="icon" href="/favicon.ico">
    <script src="https://cdn.example/app.js"></script>
    <script src="/local.js"></script>
    <img src="data:image/png;base64,AAAA" srcset="https://img.example/a.png 1x, //img2.example/b.png 2x">
    <video poster="https://img.example/poster.jpg"><source src="https://media.example/v.mp4"></video>
    <picture><source srcset="https://img3.example/c.webp"></picture>
    <iframe src="https://www.youtube.example/embed/x"></iframe>
    <form action="https://pay.example:8443/checkout"></form>
    """
    policy = directives(suggest_policy(html, PAGE_URL))
    assert policy["script-src"] == ["'self'", "https://cdn.example"]
    assert policy["style-src"] == ["'self'", "https://cdn.example"]
    assert policy["font-src"] == ["'self'", "https://fonts.example"]
    assert policy["connect-src"] == ["'self'", "https://api.example"]
    assert policy["img-src"] == ["'self'", "data:", "https://img.example", "https://img2.example",
                                 "https://img3.example"]
    assert policy["media-src"] == ["'self'", "https://media.example"]
    assert policy["frame-src"] == ["'self'", "https://www.youtube.example"]
    assert policy["form-action"] == ["https://pay.example:8443"]
    assert policy["object-src"] == ["'none'"]


def test_inline_scripts_and_handlers_are_hashed_instead_of_unsafe_inline() -> None:
    html = ('<script>alert(1)</script><script type="application/ld+json">{"a": 1}</script>'
            '<button onclick="doSomething()">go</button><style>body{color:red}</style>')
    policy = directives(suggest_policy(html, PAGE_URL))
    assert policy["script-src"] == ["'self'", "'unsafe-hashes'", ALERT_HASH, HANDLER_HASH]
    assert policy["style-src"] == ["'self'", STYLE_HASH]


def test_style_attributes_need_unsafe_inline_for_styles_only() -> None:
    html = '<style>body{color:red}</style><p style="color: blue">x</p><script>alert(1)</script>'
    policy = directives(suggest_policy(html, PAGE_URL))
    # A hash next to 'unsafe-inline' would make browsers ignore it, so there is none.
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    assert "'unsafe-inline'" not in policy["script-src"]


def test_urls_resolve_against_base_href_and_same_origin_is_self() -> None:
    html = ('<base href="https://static.example/v2/"><script src="app.js"></script>'
            '<img src="https://SHOP.example:443/logo.png"><a href="javascript:void(0)">x</a>')
    policy = directives(suggest_policy(html, PAGE_URL))
    assert policy["script-src"] == ["'self'", "https://static.example"]
    assert "img-src" not in policy  # same origin: default-src 'self' covers it


def test_object_and_embed_replace_the_none_object_src() -> None:
    html = '<object data="https://flash.example/movie.swf"></object>'
    assert directives(suggest_policy(html, PAGE_URL))["object-src"] == ["https://flash.example"]
