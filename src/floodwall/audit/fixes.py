"""The configuration that fixes a site: nginx `add_header … always;` lines and Apache
`Header always set …` lines, with the suggested Content-Security-Policy staged report-only.

A header gets a line when its check finds something (then the recommended value is used,
or for CSP the policy suggested from the page) or when the site sends it on normal pages but
not on error pages (then its current value is kept, sent always). The lines replace any
existing ones for the same headers in the vhost.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from floodwall.audit import checks
from floodwall.audit.model import Fetched, Finding, Severity

RECOMMENDED: dict[str, str] = {
    checks.HSTS: f"max-age={checks.HSTS_PRELOAD_AGE}; includeSubDomains",
    checks.XFO: "SAMEORIGIN",
    checks.XCTO: "nosniff",
    checks.REFERRER: "strict-origin-when-cross-origin",
    checks.PERMISSIONS: "camera=(), geolocation=(), microphone=(), payment=(), usb=()",
    checks.COOP: "same-origin",
}
"""Values written for headers that are missing or weak (CSP comes from the page)."""

_FAMILY_CHECKS: dict[str, Callable[[Fetched], list[Finding]]] = {
    checks.HSTS: checks.check_hsts,
    checks.CSP: checks.check_csp,
    checks.XFO: checks.check_frame_options,
    checks.XCTO: checks.check_content_type_options,
    checks.REFERRER: checks.check_referrer_policy,
    checks.PERMISSIONS: checks.check_permissions_policy,
    checks.COOP: checks.check_cross_origin_opener_policy,
}


def header_values(fetched: Fetched, csp: str) -> list[tuple[str, str]]:
    """(header, value) pairs to send always, in the order of checks.SECURITY_HEADERS."""
    page, error = fetched.page, fetched.error_page
    wanted = []
    for header in checks.SECURITY_HEADERS:
        check = _FAMILY_CHECKS.get(header)
        weak = check is not None and any(f.severity is not Severity.INFO for f in check(fetched))
        if weak:
            wanted.append((header, csp if header == checks.CSP else RECOMMENDED[header]))
        elif page.values(header) and error is not None and not error.values(header):
            wanted.append((header, ", ".join(page.values(header))))
    return wanted


def nginx_snippet(fetched: Fetched, findings: tuple[Finding, ...], csp: str) -> str:
    """nginx lines for the vhost's `server` block ('' when nothing needs fixing)."""
    about = {finding.header for finding in findings if finding.severity is not Severity.INFO}
    lines = []
    for header, value in header_values(fetched, csp):
        if header == checks.CSP:
            lines += ["# Stage the policy first, then swap it for the enforcing line below:",
                      f"#   add_header {checks.CSP_REPORT_ONLY} {_nginx_quote(value)} always;"]
        lines.append(f"add_header {header} {_nginx_quote(value)} always;")
    if checks.SERVER in about:
        lines.append("server_tokens off;")
    if checks.POWERED_BY in about:
        lines += ["proxy_hide_header X-Powered-By;", "fastcgi_hide_header X-Powered-By;"]
    if checks.SET_COOKIE in about:
        lines += ["# cookies set by a proxied application:",
                  f"proxy_cookie_flags ~ {' '.join(_cookie_flags(fetched)).lower()};"]
    lines += _comments(fetched, about, "return 301 https://$host$request_uri;")
    return _wrap(lines, "in the server block; replace existing add_header lines for these "
                 "headers (add_header in a location block hides the server's)")


def apache_snippet(fetched: Fetched, findings: tuple[Finding, ...], csp: str) -> str:
    """Apache (mod_headers) lines for the `<VirtualHost>` ('' when nothing needs fixing)."""
    about = {finding.header for finding in findings if finding.severity is not Severity.INFO}
    lines = []
    for header, value in header_values(fetched, csp):
        if header == checks.CSP:
            lines += ["# Stage the policy first, then swap it for the enforcing line below:",
                      f"#   Header always set {checks.CSP_REPORT_ONLY} {_apache_quote(value)}"]
        lines.append(f"Header always set {header} {_apache_quote(value)}")
    if checks.SERVER in about:
        lines.append("# in the main server configuration (not allowed in a VirtualHost): "
                     "ServerTokens Prod")
    if checks.POWERED_BY in about:
        lines += ["Header always unset X-Powered-By", "Header unset X-Powered-By"]
    if checks.SET_COOKIE in about:
        for flag in _cookie_flags(fetched):
            name = flag.split("=")[0]
            lines.append(f'Header always edit Set-Cookie "(?i)^((?!.*;\\s*{name}).*)$" '
                         f'"$1; {flag}"')
    host = urlsplit(fetched.page.url).hostname
    lines += _comments(fetched, about, f"Redirect permanent / https://{host}/")
    return _wrap(lines, "inside the <VirtualHost>; needs mod_headers (a2enmod headers)")


def _cookie_flags(fetched: Fetched) -> list[str]:
    """Cookie attributes some Set-Cookie of the page lacks, as they should be added."""
    flags = {"secure": "Secure", "httponly": "HttpOnly", "samesite": "SameSite=Lax"}
    missing = []
    for key, flag in flags.items():
        for cookie in fetched.page.values(checks.SET_COOKIE):
            attributes = {part.split("=", 1)[0].strip().lower() for part in cookie.split(";")[1:]}
            if key not in attributes:
                missing.append(flag)
                break
    return missing


def _comments(fetched: Fetched, about: set[str], redirect: str) -> list[str]:
    """Advice that is not a header line: certificates and HTTPS."""
    lines = []
    if checks.TLS in about:
        lines.append(f"# certificate not trusted ({fetched.tls_error}): install one from a "
                     "public CA")
    if checks.TRANSPORT in about:
        lines.append(f"# plain HTTP: serve the site over HTTPS and redirect here: {redirect}")
    return lines


def _wrap(lines: list[str], where: str) -> str:
    """The snippet with its heading, or '' when there is nothing to do."""
    if not lines:
        return ""
    return "\n".join([f"# floodwall audit fixes, {where}"] + lines) + "\n"


def _nginx_quote(value: str) -> str:
    """`value` as a double-quoted nginx string."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _apache_quote(value: str) -> str:
    """`value` as a double-quoted mod_headers value (% starts a format specifier there)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%") + '"'

