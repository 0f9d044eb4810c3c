"""Vhost names from the configured access logs, filtered so client text cannot pick targets."""

from __future__ import annotations

from pathlib import Path

from floodwall.audit.logvhosts import vhosts_from_logs
from floodwall.config.loader import parse_config


def _line(vhost: str, status: int = 200) -> str:
    return (f'192.0.2.{status % 250} - - [02/Mar/2026:08:00:00 +0000] 10 20 "GET / HTTP/1.1" '
            f'{status} 5 "-" "x" {vhost} 443\n')


def test_names_served_by_the_sites_are_found_busiest_first(tmp_path: Path) -> None:
    for site, lines in {
        "a": [_line("shop.example")] * 3 + [_line("blog.example")] * 2,
        "b": [_line("evil.attacker.example", 404)] * 5   # never served: not a target
        + [_line("10.0.0.1")] * 5                         # an address, not a name
        + [_line("bad_name!")] * 5 + [_line("once.example")],
    }.items():
        (tmp_path / site).mkdir()
        (tmp_path / site / "access.log").write_text("".join(lines))
    config = parse_config(f'[jails.web]\nlogpath = "{tmp_path}/*/access.log"\n'
                          '[jails.ssh]\nfilter = "sshd"\nlogpath = "/nonexistent"\n')
    assert vhosts_from_logs(config) == ["shop.example", "blog.example"]
