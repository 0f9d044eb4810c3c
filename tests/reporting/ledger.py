"""A ledger with known bans and evidence, for the reporting tests."""

from __future__ import annotations

from pathlib import Path

from floodwall.model import Ban, Failure
from floodwall.storage.database import Database
from tests.support.lines import access_line

NOW = 1_772_000_000.0
"""The reports' "now" (a fixed moment, so timelines are exact)."""


def _failure(key: str, site: str, path: str, when: float, jail: str) -> Failure:
    return Failure(jail, key, when, f"/srv/www/{site}/logs/access.log", 1,
                   access_line(key, path, agent="scanner", when=when).rstrip("\n"))


def fill(path: Path) -> Database:
    """Five bans in the last day (8.8.8.8 twice) and one older than a week."""
    database = Database(path)
    plan = [  # key, jail, hours ago, site, paths
        ("8.8.8.8", "http-get-dos", 20, "shop.example", ["/.env", "/wp-admin/", "/.git/config"]),
        ("1.1.1.1", "http-get-dos", 12, "shop.example", ["/.env", "/phpmyadmin/"]),
        ("8.8.4.4", "wordpress", 6, "blog.example", ["/<script>alert(1)</script>"]),
        ("8.8.8.8", "wordpress", 2, "blog.example", ["/wp-login.php", "/wp-login.php"]),
        ("192.0.2.9", "sshd", 1, "ssh", []),
        ("1.1.1.1", "http-get-dos", 24 * 9, "old.example", ["/old"]),
    ]
    for key, jail, hours, site, paths in plan:
        start = NOW - hours * 3600
        failures = [_failure(key, site, p, start - 10 + n, jail) for n, p in enumerate(paths)]
        database.add_bans([(Ban(key, jail, start, start + 3600, len(paths), "local", "test"),
                            failures)])
    return database
