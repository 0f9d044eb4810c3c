"""The nginx and Apache lines that fix a site; nginx accepts what is generated."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from floodwall.audit import checks
from floodwall.audit.fixes import RECOMMENDED, apache_snippet, header_values, nginx_snippet
from floodwall.audit.model import Fetched, Page
from tests.support.nginx import NGINX, nginx_argv, write_config

SUGGESTED = "default-src 'self'; script-src 'self' 'sha256-abc='"


def site(headers: dict[str, str], *, url: str = "https://s.example/",
         error_headers: dict[str, str] | None = None) -> Fetched:
    """A fetched site with `headers` on its page and `error_headers` on its 404."""
    error = Page(url + "missing", 404, tuple(error_headers.items())) if error_headers is not None \
        else None
    return Fetched(page=Page(url, 200, tuple(headers.items())), error_page=error)


def test_missing_headers_get_recommended_values_and_csp_gets_the_suggestion() -> None:
    values = dict(header_values(site({}), SUGGESTED))
    assert values == {checks.HSTS: RECOMMENDED[checks.HSTS], checks.CSP: SUGGESTED,
                      checks.XFO: "SAMEORIGIN", checks.XCTO: "nosniff",
                      checks.REFERRER: "strict-origin-when-cross-origin",
                      checks.PERMISSIONS: RECOMMENDED[checks.PERMISSIONS],
                      checks.COOP: "same-origin"}


def test_good_values_missing_on_error_pages_are_kept_and_sent_always() -> None:
    good = {"content-security-policy": "default-src 'none'; frame-ancestors 'none'",
            "x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}
    fetched = site(good, url="http://s.example/", error_headers={"x-content-type-options":
                                                                 "nosniff"})
    values = dict(header_values(fetched, SUGGESTED))
    assert values[checks.CSP] == "default-src 'none'; frame-ancestors 'none'"
    assert values[checks.REFERRER] == "no-referrer"
    assert checks.XCTO not in values
    assert checks.HSTS not in values  # plain HTTP: HSTS would be ignored there


def test_csp_is_staged_report_only_before_the_enforcing_line() -> None:
    snippet = nginx_snippet(site({}), (), SUGGESTED)
    staged = snippet.index(f'#   add_header {checks.CSP_REPORT_ONLY} "{SUGGESTED}" always;')
    enforced = snippet.index(f'\nadd_header {checks.CSP} "{SUGGESTED}" always;')
    assert staged < enforced


def test_apache_lines_quote_values_and_double_percent_signs() -> None:
    fetched = site({"referrer-policy": "unsafe-url"})
    snippet = apache_snippet(fetched, checks.run_checks(fetched), 'a "b" 50%')
    assert 'Header always set Content-Security-Policy "a \\"b\\" 50%%"' in snippet
    assert 'Header always set Referrer-Policy "strict-origin-when-cross-origin"' in snippet


def test_nothing_to_fix_gives_empty_snippets() -> None:
    hardened = {"strict-transport-security": "max-age=31536000; includeSubDomains",
                "content-security-policy": "default-src 'self'; frame-ancestors 'self'",
                "x-content-type-options": "nosniff", "referrer-policy": "no-referrer",
                "permissions-policy": "camera=()", "cross-origin-opener-policy": "same-origin"}
    fetched = site(hardened, error_headers=hardened)
    found = checks.run_checks(fetched)
    assert nginx_snippet(fetched, found, SUGGESTED) == ""
    assert apache_snippet(fetched, found, SUGGESTED) == ""


def test_disclosure_and_cookie_fixes() -> None:
    fetched = site({"server": "nginx/1.22.1", "x-powered-by": "PHP/8.2",
                    "set-cookie": "sid=1; Secure"})
    found = checks.run_checks(fetched)
    nginx = nginx_snippet(fetched, found, SUGGESTED)
    assert "server_tokens off;" in nginx and "fastcgi_hide_header X-Powered-By;" in nginx
    assert "proxy_cookie_flags ~ httponly samesite=lax;" in nginx
    apache = apache_snippet(fetched, found, SUGGESTED)
    assert "Header always unset X-Powered-By" in apache
    assert 'Header always edit Set-Cookie "(?i)^((?!.*;\\s*HttpOnly).*)$" "$1; HttpOnly"' in apache
    assert "Secure\"" not in apache


@pytest.mark.skipif(NGINX is None, reason="LOUD SKIP: nginx is needed (apt-get install nginx)")
def test_nginx_accepts_every_line_generated(tmp_path: Path) -> None:
    fetched = site({"server": "nginx/1.22.1", "x-powered-by": "PHP/8.2", "set-cookie": "sid=1"},
                   url="http://s.example/")
    snippet = nginx_snippet(fetched, checks.run_checks(fetched), SUGGESTED + '; x "quoted"')
    write_config(tmp_path, f"  server {{\n    listen 127.0.0.1:9;\n{snippet}\n  }}\n")
    result = subprocess.run([*nginx_argv(tmp_path), "-t"], check=False, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr
