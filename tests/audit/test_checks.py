"""Each header family's check on responses built in the test."""

from __future__ import annotations

import pytest

from floodwall.audit import checks
from floodwall.audit.model import Fetched, Finding, Page, Severity

HIGH, MEDIUM, LOW, INFO = Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO

GOOD = {
    "strict-transport-security": "max-age=63072000; includeSubDomains; preload",
    "content-security-policy": "default-src 'self'; frame-ancestors 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "permissions-policy": "camera=()",
    "cross-origin-opener-policy": "same-origin",
}


def fetched(headers: dict[str, str | list[str] | None] | None = None, *, url: str = "https://s.example/",
            error_headers: dict[str, str] | None = None, error_status: int = 404,
            tls_error: str | None = None) -> Fetched:
    """A site answering with GOOD headers changed by `headers` (a None value removes one)."""
    merged: dict[str, str | list[str] | None] = dict(GOOD)
    merged.update(headers or {})
    pairs = tuple((name, value) for name, values in merged.items() if values is not None
                  for value in ([values] if isinstance(values, str) else values))
    error = None
    if error_headers is not None:
        error = Page(url=url + "missing", status=error_status,
                     headers=tuple(error_headers.items()))
    return Fetched(page=Page(url=url, status=200, headers=pairs), error_page=error,
                   tls_error=tls_error)


def summary(found: list[Finding]) -> list[tuple[str, Severity]]:
    return [(f.header, f.severity) for f in found]


def test_a_fully_hardened_https_site_has_no_finding_that_costs_points() -> None:
    found = checks.run_checks(fetched(error_headers=GOOD))
    assert [f for f in found if f.severity is not INFO] == []


def test_findings_come_most_severe_first() -> None:
    found = checks.run_checks(fetched({"content-security-policy": None, "referrer-policy": None,
                                       "x-content-type-options": None}))
    assert [f.severity for f in found] == sorted(
        (f.severity for f in found), key=[HIGH, MEDIUM, LOW, INFO].index)
    assert summary(list(found))[:2] == [(checks.CSP, HIGH), (checks.XCTO, MEDIUM)]


def test_plain_http_is_a_transport_finding_and_skips_hsts() -> None:
    site = fetched(url="http://s.example/")
    assert summary(checks.check_transport(site)) == [(checks.TRANSPORT, LOW)]
    assert checks.check_hsts(site) == []
    assert checks.check_transport(fetched()) == []


def test_untrusted_certificate_is_high() -> None:
    [finding] = checks.check_tls(fetched(tls_error="self-signed certificate"))
    assert finding.severity is HIGH and "self-signed certificate" in finding.message


@pytest.mark.parametrize(("value", "expected"), [
    (None, [HIGH]),
    ("includeSubDomains", [HIGH]),
    ("max-age=0", [HIGH]),
    ("max-age=300; includeSubDomains", [MEDIUM, INFO]),
    ('max-age="31536000"; includeSubDomains; preload', []),
    ("max-age=31536000", [LOW, INFO]),
    ("max-age=20000000; includeSubDomains; preload", [LOW]),  # too short to be preloaded
])
def test_hsts(value: str | None, expected: list[Severity]) -> None:
    found = checks.check_hsts(fetched({"strict-transport-security": value}))
    assert [f.severity for f in found] == expected


@pytest.mark.parametrize(("policy", "expected"), [
    ("default-src 'self'; frame-ancestors 'none'", []),
    ("default-src 'self'", [INFO]),
    ("script-src 'self'; frame-ancestors 'self'", [MEDIUM]),
    ("img-src *; frame-ancestors 'self'", [MEDIUM, HIGH]),
    ("default-src 'self' 'unsafe-inline'; frame-ancestors 'self'", [HIGH, INFO]),
    ("default-src 'self'; script-src 'self' 'unsafe-inline' 'nonce-abc'; frame-ancestors 'self'",
     []),
    ("default-src 'self'; script-src 'self' 'unsafe-eval'; frame-ancestors 'self'", [MEDIUM]),
    ("default-src 'self'; script-src https: ; frame-ancestors 'self'", [HIGH]),
    ("default-src *; script-src 'self'; frame-ancestors 'self'", [LOW]),
])
def test_csp_policy_flaws(policy: str, expected: list[Severity]) -> None:
    found = checks.check_csp(fetched({"content-security-policy": policy}))
    assert [f.severity for f in found] == expected


def test_csp_missing_is_high_and_report_only_is_medium() -> None:
    assert summary(checks.check_csp(fetched({"content-security-policy": None}))) == [
        (checks.CSP, HIGH)]
    only_reported = fetched({"content-security-policy": None,
                             "content-security-policy-report-only": "default-src 'self'"})
    [finding] = checks.check_csp(only_reported)
    assert finding.severity is MEDIUM and "Report-Only" in finding.message


def test_frame_options_are_needed_only_without_frame_ancestors() -> None:
    no_xfo = fetched({"x-frame-options": None})
    assert checks.check_frame_options(no_xfo) == []
    neither = fetched({"x-frame-options": None, "content-security-policy": "default-src 'self'"})
    assert summary(checks.check_frame_options(neither)) == [(checks.XFO, MEDIUM)]
    bogus = fetched({"x-frame-options": "ALLOW-FROM x", "content-security-policy": None})
    assert summary(checks.check_frame_options(bogus)) == [(checks.XFO, LOW)]


def test_content_type_options_must_be_nosniff() -> None:
    assert summary(checks.check_content_type_options(fetched({"x-content-type-options": "yes"})))\
        == [(checks.XCTO, MEDIUM)]
    assert checks.check_content_type_options(fetched({"x-content-type-options": "NoSniff"})) == []


def test_referrer_policy_uses_the_last_value_like_browsers() -> None:
    leaky = fetched({"referrer-policy": "no-referrer, unsafe-url"})
    assert summary(checks.check_referrer_policy(leaky)) == [(checks.REFERRER, LOW)]
    fine = fetched({"referrer-policy": "unsafe-url, strict-origin"})
    assert checks.check_referrer_policy(fine) == []
    assert summary(checks.check_referrer_policy(fetched({"referrer-policy": None}))) == [
        (checks.REFERRER, LOW)]


def test_permissions_policy_and_coop() -> None:
    obsolete = fetched({"permissions-policy": None, "feature-policy": "camera 'none'"})
    [finding] = checks.check_permissions_policy(obsolete)
    assert "Feature-Policy is obsolete" in finding.message
    unsafe = fetched({"cross-origin-opener-policy": "unsafe-none"})
    assert summary(checks.check_cross_origin_opener_policy(unsafe)) == [(checks.COOP, LOW)]
    popups = fetched({"cross-origin-opener-policy": "same-origin-allow-popups"})
    assert checks.check_cross_origin_opener_policy(popups) == []


def test_each_cookie_lacking_flags_is_one_finding() -> None:
    site = fetched({"set-cookie": ["a=1; Path=/; Secure; HttpOnly; SameSite=Lax",
                                   "b=2; Path=/; secure; httponly",
                                   "c=3; SameSite=Strict"]})
    found = checks.check_cookies(site)
    assert [(f.severity, f.message) for f in found] == [
        (LOW, "cookie 'b' lacks SameSite"),
        (MEDIUM, "cookie 'c' lacks Secure, HttpOnly"),
    ]


def test_versions_in_server_and_powered_by_are_disclosure() -> None:
    site = fetched({"server": "Apache/2.4.57 (Debian)", "x-powered-by": "PHP/8.2.7"})
    assert summary(checks.check_disclosure(site)) == [(checks.SERVER, LOW),
                                                       (checks.POWERED_BY, LOW)]
    assert checks.check_disclosure(fetched({"server": "nginx"})) == []


def test_headers_missing_on_error_pages_are_listed_per_header() -> None:
    error_headers = {k: v for k, v in GOOD.items() if k != "x-frame-options"}
    found = checks.check_error_pages(fetched(error_headers=error_headers))
    assert summary(found) == [(checks.XFO, LOW)]
    assert "404 error page" in found[0].message and "always" in found[0].message
    # An error probe that is not an error (a catch-all page) says nothing.
    assert checks.check_error_pages(fetched(error_headers={}, error_status=200)) == []
