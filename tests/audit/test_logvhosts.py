"""Vhost names from the configured access logs, filtered so client text cannot pick targets."""

from __future__ import annotations

from pathlib import Path

from floodwall.audit.logvhosts import resolve_name, served_here, vhosts_from_logs
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


def test_only_names_of_this_host_become_targets() -> None:
    dns = {"shop.example": ["198.51.100.10"], "internal-admin.corp": ["10.20.0.5"],
           "mixed.example": ["198.51.100.10", "203.0.113.99"], "v6.example": ["2001:db8::10"],
           "kube-api.cluster.local": ["127.0.0.1"]}
    names = ["blog.example", "shop.example", "internal-admin.corp", "mixed.example",
             "v6.example", "unknown.example", "kube-api.cluster.local"]
    kept = served_here(names, configured={"blog.example"},
                       own={"198.51.100.10", "2001:db8::10"},
                       resolve=lambda name: dns.get(name, []))
    # Configured, or every address this host's own; never elsewhere, never unresolved.
    assert kept == ["blog.example", "shop.example", "v6.example"]


def test_the_real_resolver_reads_the_hosts_file() -> None:
    assert "127.0.0.1" in resolve_name("localhost") or "::1" in resolve_name("localhost")
    assert resolve_name("no-such-name.invalid") == []
