"""End to end against a real nginx on 127.0.0.1: grades, findings, and fixes that work."""

from __future__ import annotations

import urllib.request

from floodwall.audit import FetchOptions, Severity, SiteResult, audit_sync, targets
from floodwall.audit.checks import CSP
from tests.audit.conftest import WEAK_HEADERS, Sites

FAST = FetchOptions(timeout=5, rate=200)


def audit_one(url: str, options: FetchOptions = FAST) -> SiteResult:
    """The result of auditing `url` alone."""
    [result] = audit_sync([url], options)
    assert result.error is None, result.error
    return result


def headers_of(result: SiteResult, severity: Severity | None = None) -> set[str]:
    """Headers with findings (of `severity`, when given)."""
    return {f.header for f in result.findings if severity is None or f.severity is severity}


def costly(result: SiteResult) -> list[str]:
    """Messages of the findings that cost points."""
    return [f"{f.header}: {f.message}" for f in result.findings
            if f.severity is not Severity.INFO]


def active_lines(snippet: str) -> list[str]:
    """Lines of a snippet that are not comments."""
    return [line for line in snippet.splitlines() if not line.startswith("#")]


def test_site_without_headers_gets_f_with_every_header_flagged(sites: Sites) -> None:
    result = audit_one(sites.plain)
    assert result.grade == "F"
    assert result.status == 200 and result.final_url == sites.plain
    assert {CSP, "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy",
            "Permissions-Policy", "Cross-Origin-Opener-Policy", "Server", "Set-Cookie",
            "Transport"} <= headers_of(result)
    assert CSP in headers_of(result, Severity.HIGH)
    [cookie] = [f for f in result.findings if f.header == "Set-Cookie"]
    assert "'session'" in cookie.message and "Secure" in cookie.message
    assert "add_header X-Content-Type-Options \"nosniff\" always;" in result.nginx
    assert "server_tokens off;" in result.nginx
    assert "Header always set X-Content-Type-Options \"nosniff\"" in result.apache


def test_weak_site_is_flagged_then_its_nginx_fix_raises_it_to_a(sites: Sites) -> None:
    before = audit_one(sites.weak)
    assert before.grade in ("D", "F")
    assert any("'unsafe-inline'" in f.message for f in before.findings
               if f.header == CSP and f.severity is Severity.HIGH)
    missing_on_errors = {f.header for f in before.findings if "404 error page" in f.message}
    assert missing_on_errors == {CSP, "X-Frame-Options", "X-Content-Type-Options",
                                 "Referrer-Policy"}
    # The suggested policy hashes the page's inline script and allows its cross-origin image.
    assert "'sha256-" in before.csp and "'unsafe-inline'" not in before.csp
    assert sites.plain.rstrip("/") in before.csp

    # Every header the vhost set is rewritten by the snippet, so it replaces them all.
    for line in WEAK_HEADERS.split("\n"):
        if line.startswith("add_header"):
            assert f"add_header {line.split()[1]} " in before.nginx
    sites.weak_headers.write_text(before.nginx)
    sites.nginx.reload(lambda: _csp_of(sites.weak) == before.csp)

    after = audit_one(sites.weak)
    assert after.grade in ("A+", "A"), costly(after)
    assert not [f for f in after.findings if "error page" in f.message]
    assert active_lines(after.nginx) == []  # only advice about HTTPS is left


def test_hardened_site_gets_a_over_http_and_a_plus_over_trusted_https(sites: Sites) -> None:
    over_http = audit_one(sites.hardened)
    assert over_http.grade == "A"
    assert costly(over_http) == [f"Transport: {over_http.findings[0].message}"]

    trusted = FetchOptions(timeout=5, rate=200, ca_file=str(sites.cert))
    over_https = audit_one(sites.hardened_tls, trusted)
    assert over_https.grade == "A+" and over_https.score == 100
    assert costly(over_https) == []
    assert active_lines(over_https.nginx) == active_lines(over_https.apache) == []


def test_untrusted_certificate_is_a_finding_and_hsts_is_still_checked(sites: Sites) -> None:
    hardened = audit_one(sites.hardened_tls)
    assert hardened.status == 200
    [tls] = [f for f in hardened.findings if f.header == "TLS"]
    assert tls.severity is Severity.HIGH and "self-signed" in tls.message
    assert hardened.grade == "B"

    weak = audit_one(sites.weak_tls)
    hsts = [f for f in weak.findings if f.header == "Strict-Transport-Security"]
    assert [(f.severity, f.message.split()[0]) for f in hsts if f.severity is not Severity.INFO] \
        == [(Severity.MEDIUM, "max-age=300"), (Severity.LOW, "no")]
    assert 'add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;' \
        in weak.nginx


def test_redirects_are_followed_and_recorded(sites: Sites) -> None:
    trusted = FetchOptions(timeout=5, rate=200, ca_file=str(sites.cert))
    result = audit_one(sites.redirect, trusted)
    assert result.final_url == sites.hardened_tls
    assert [(hop.url, hop.status) for hop in result.redirects] == [(sites.redirect, 301)]
    assert result.grade == "A+"


def test_audit_sends_nothing_but_get(sites: Sites) -> None:
    urls = [sites.plain, sites.weak, sites.hardened, sites.hardened_tls, sites.redirect,
            sites.weak_tls]
    results = audit_sync(targets(urls), FAST)
    assert [r.grade is not None for r in results] == [True] * len(urls)
    methods = sites.nginx.methods()
    assert len(methods) >= 2 * len(urls)
    assert set(methods) <= {"GET", "HEAD"}


def _csp_of(url: str) -> str | None:
    """The Content-Security-Policy `url` answers with now."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=5) as response:
        return response.headers.get(CSP)

