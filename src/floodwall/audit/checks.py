"""The checks of the audit: one function per header family, each returning its findings."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

from floodwall.audit.csp import policies
from floodwall.audit.model import Fetched, Finding, Severity

HSTS = "Strict-Transport-Security"
CSP = "Content-Security-Policy"
CSP_REPORT_ONLY = "Content-Security-Policy-Report-Only"
XFO = "X-Frame-Options"
XCTO = "X-Content-Type-Options"
REFERRER = "Referrer-Policy"
PERMISSIONS = "Permissions-Policy"
COOP = "Cross-Origin-Opener-Policy"
SET_COOKIE = "Set-Cookie"
SERVER = "Server"
POWERED_BY = "X-Powered-By"
TLS = "TLS"
TRANSPORT = "Transport"

SECURITY_HEADERS = (HSTS, CSP, CSP_REPORT_ONLY, XFO, XCTO, REFERRER, PERMISSIONS, COOP)
"""Headers a site should send on every response, error pages included."""

HSTS_MIN_AGE = 15_552_000
"""Shortest HSTS max-age (180 days) that does not lower the grade."""
HSTS_PRELOAD_AGE = 31_536_000
"""max-age (one year) the browsers' preload lists require."""

_HIGH, _MEDIUM, _LOW, _INFO = Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO
_LEAKY_REFERRERS = {"unsafe-url", "no-referrer-when-downgrade"}
_ANY_SOURCE = {"*", "http:", "https:", "data:", "blob:"}


def _is_https(fetched: Fetched) -> bool:
    return urlsplit(fetched.page.url).scheme == "https"


def check_transport(fetched: Fetched) -> list[Finding]:
    """Plain HTTP without a redirect to HTTPS."""
    if _is_https(fetched):
        return []
    return [Finding(TRANSPORT, _LOW, "served over plain HTTP with no redirect to HTTPS, so "
                    "HSTS cannot apply: serve it over HTTPS and redirect HTTP there")]


def check_tls(fetched: Fetched) -> list[Finding]:
    """A certificate that browsers would not trust."""
    if fetched.tls_error is None:
        return []
    return [Finding(TLS, _HIGH, f"certificate not trusted ({fetched.tls_error}): browsers "
                    "refuse the site; install a certificate from a public CA (e.g. ACME)")]


def check_hsts(fetched: Fetched) -> list[Finding]:
    """Strict-Transport-Security: present on HTTPS, long max-age, includeSubDomains, preload."""
    if not _is_https(fetched):
        return []
    value = fetched.page.first(HSTS)
    if value is None:
        return [Finding(HSTS, _HIGH, "missing: browsers may be downgraded to HTTP; send "
                        f"'max-age={HSTS_PRELOAD_AGE}; includeSubDomains'")]
    fields = [part.strip().lower() for part in value.split(";")]
    age = next((m for f in fields if (m := re.fullmatch(r'max-age\s*=\s*"?(\d+)"?', f))), None)
    if age is None:
        return [Finding(HSTS, _HIGH, f"'{value}' has no valid max-age: browsers ignore it")]
    seconds = int(age.group(1))
    if seconds == 0:
        return [Finding(HSTS, _HIGH, "max-age=0 tells browsers to forget HSTS")]
    found = []
    if seconds < HSTS_MIN_AGE:
        found.append(Finding(HSTS, _MEDIUM, f"max-age={seconds} is shorter than 180 days "
                             f"({HSTS_MIN_AGE}); use {HSTS_PRELOAD_AGE}"))
    if "includesubdomains" not in fields:
        found.append(Finding(HSTS, _LOW, "no includeSubDomains: subdomains can still be "
                             "reached over HTTP"))
    if "preload" not in fields:
        found.append(Finding(HSTS, _INFO, "no preload: first visits are not protected until "
                             "the site is on the browsers' preload list"))
    elif seconds < HSTS_PRELOAD_AGE or "includesubdomains" not in fields:
        found.append(Finding(HSTS, _LOW, "preload is set but the preload list needs "
                             f"max-age>={HSTS_PRELOAD_AGE} and includeSubDomains"))
    return found


def check_csp(fetched: Fetched) -> list[Finding]:
    """Content-Security-Policy: present, enforced, no unsafe-inline/eval or wildcards."""
    enforced = policies(fetched.page.values(CSP))
    if not enforced:
        if fetched.page.values(CSP_REPORT_ONLY):
            return [Finding(CSP, _MEDIUM, "only Content-Security-Policy-Report-Only is sent: "
                            "nothing is enforced; enforce the policy once reports are clean")]
        return [Finding(CSP, _HIGH, "missing: nothing limits where scripts load from; "
                        "start from the suggested policy, report-only first")]
    found: list[Finding] = []
    for policy in enforced:
        found.extend(_policy_findings(policy))
    return list(dict.fromkeys(found))


def _policy_findings(policy: dict[str, list[str]]) -> list[Finding]:
    """Findings about one enforced policy."""
    found = []
    default = policy.get("default-src")
    scripts = policy.get("script-src", default)
    styles = policy.get("style-src", default)
    if default is None:
        found.append(Finding(CSP, _MEDIUM, "no default-src: resource types without their "
                             "own directive load from anywhere; add default-src 'self'"))
    if scripts is None:
        found.append(Finding(CSP, _HIGH, "neither script-src nor default-src: scripts load "
                             "from anywhere"))
        scripts = []
    lowered = [source.lower() for source in scripts]
    # A nonce, a hash or 'strict-dynamic' makes browsers ignore 'unsafe-inline'.
    protected = any(s.startswith(("'nonce-", "'sha")) or s == "'strict-dynamic'"
                    for s in lowered)
    if "'unsafe-inline'" in lowered and not protected:
        found.append(Finding(CSP, _HIGH, "script-src allows 'unsafe-inline': injected "
                             "scripts run; use hashes or nonces"))
    if "'unsafe-eval'" in lowered:
        found.append(Finding(CSP, _MEDIUM, "script-src allows 'unsafe-eval': strings "
                             "become code; remove it"))
    if _ANY_SOURCE & set(lowered):
        found.append(Finding(CSP, _HIGH, "script-src allows any host "
                             f"({' '.join(sorted(_ANY_SOURCE & set(lowered)))}); list "
                             "the origins instead"))
    if default is not None and _ANY_SOURCE & {s.lower() for s in default}:
        found.append(Finding(CSP, _LOW, "default-src allows any host; use 'self' and add "
                             "origins per directive"))
    if styles is not None and "'unsafe-inline'" in {s.lower() for s in styles}:
        found.append(Finding(CSP, _INFO, "style-src allows 'unsafe-inline' (a small risk, "
                             "common for style attributes)"))
    if "frame-ancestors" not in policy:
        found.append(Finding(CSP, _INFO, "no frame-ancestors: framing is governed only by "
                             "X-Frame-Options"))
    return found


def check_frame_options(fetched: Fetched) -> list[Finding]:
    """X-Frame-Options (or CSP frame-ancestors) against clickjacking."""
    ancestors = any("frame-ancestors" in p for p in policies(fetched.page.values(CSP)))
    value = fetched.page.first(XFO)
    if value is None:
        if ancestors:
            return []
        return [Finding(XFO, _MEDIUM, "missing, and no CSP frame-ancestors: the site can be "
                        "framed for clickjacking; send SAMEORIGIN")]
    if value.strip().upper() not in ("DENY", "SAMEORIGIN") and not ancestors:
        return [Finding(XFO, _LOW, f"'{value}' is not DENY or SAMEORIGIN: browsers ignore it")]
    return []


def check_content_type_options(fetched: Fetched) -> list[Finding]:
    """X-Content-Type-Options: nosniff."""
    value = fetched.page.first(XCTO)
    if value is None:
        return [Finding(XCTO, _MEDIUM, "missing: browsers may sniff uploads into scripts; "
                        "send nosniff")]
    if value.strip().lower() != "nosniff":
        return [Finding(XCTO, _MEDIUM, f"'{value}' is not nosniff")]
    return []


def check_referrer_policy(fetched: Fetched) -> list[Finding]:
    """Referrer-Policy: present and not leaking full URLs to other sites."""
    values = fetched.page.values(REFERRER)
    if not values:
        return [Finding(REFERRER, _LOW, "missing: send strict-origin-when-cross-origin")]
    # Browsers use the last value they understand.
    last = [v.strip().lower() for value in values for v in value.split(",") if v.strip()][-1:]
    if set(last) & _LEAKY_REFERRERS:
        return [Finding(REFERRER, _LOW, f"'{last[0]}' sends full URLs to other sites; use "
                        "strict-origin-when-cross-origin")]
    return []


def check_permissions_policy(fetched: Fetched) -> list[Finding]:
    """Permissions-Policy: present."""
    if fetched.page.values(PERMISSIONS):
        return []
    hint = " (Feature-Policy is obsolete)" if fetched.page.values("Feature-Policy") else ""
    return [Finding(PERMISSIONS, _LOW, f"missing{hint}: turn off the browser features the "
                    "site does not use (camera, microphone, geolocation…)")]


def check_cross_origin_opener_policy(fetched: Fetched) -> list[Finding]:
    """Cross-Origin-Opener-Policy: same-origin (or same-origin-allow-popups)."""
    value = fetched.page.first(COOP)
    if value is None:
        return [Finding(COOP, _LOW, "missing: other windows keep a handle on the site; send "
                        "same-origin")]
    if value.strip().lower() not in ("same-origin", "same-origin-allow-popups",
                                     "noopener-allow-popups"):
        return [Finding(COOP, _LOW, f"'{value}' does not isolate the site; send same-origin")]
    return []


def check_cookies(fetched: Fetched) -> list[Finding]:
    """Cookies without Secure, HttpOnly or SameSite."""
    found = []
    for cookie in fetched.page.values(SET_COOKIE):
        name, _, rest = cookie.partition("=")
        flags = {part.split("=", 1)[0].strip().lower() for part in rest.split(";")[1:]}
        missing = [flag for flag in ("Secure", "HttpOnly", "SameSite")
                   if flag.lower() not in flags]
        if missing:
            severity = _MEDIUM if {"Secure", "HttpOnly"} & set(missing) else _LOW
            found.append(Finding(SET_COOKIE, severity, f"cookie '{name.strip()}' lacks "
                                 f"{', '.join(missing)}"))
    return found


def check_disclosure(fetched: Fetched) -> list[Finding]:
    """Server and X-Powered-By revealing software and versions."""
    found = []
    server = fetched.page.first(SERVER)
    if server and re.search(r"\d", server):
        found.append(Finding(SERVER, _LOW, f"'{server}' discloses the server version: "
                             "hide it (nginx: server_tokens off; Apache: ServerTokens Prod)"))
    powered = fetched.page.first(POWERED_BY)
    if powered:
        found.append(Finding(POWERED_BY, _LOW, f"'{powered}' discloses the application "
                             "stack: remove the header"))
    return found


def check_error_pages(fetched: Fetched) -> list[Finding]:
    """Security headers sent on normal responses but not on error pages."""
    error, page = fetched.error_page, fetched.page
    if error is None or error.status < 400 or page.status >= 400:
        return []
    path = urlsplit(error.url).path
    return [Finding(header, _LOW, f"sent on the {page.status} page but not on the "
                    f"{error.status} error page ({path}): nginx add_header needs 'always', "
                    "Apache 'Header always set'")
            for header in SECURITY_HEADERS if page.values(header) and not error.values(header)]


CHECKS: tuple[Callable[[Fetched], list[Finding]], ...] = (
    check_tls, check_transport, check_hsts, check_csp, check_frame_options,
    check_content_type_options, check_referrer_policy, check_permissions_policy,
    check_cross_origin_opener_policy, check_cookies, check_disclosure, check_error_pages,
)
"""Every check, in the order their findings are listed within a severity."""

_RANK = {_HIGH: 0, _MEDIUM: 1, _LOW: 2, _INFO: 3}


def run_checks(fetched: Fetched) -> tuple[Finding, ...]:
    """All findings about a fetched site, most severe first."""
    found = [finding for check in CHECKS for finding in check(fetched)]
    return tuple(sorted(found, key=lambda finding: _RANK[finding.severity]))
