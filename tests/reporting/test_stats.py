"""Statistics over a real SQLite ledger, and the terminal tables made from them."""

from __future__ import annotations

from pathlib import Path

from floodwall.matching.accesslog import request_reader
from floodwall.recon.enricher import build_enricher
from floodwall.reporting.stats import Report, build_report
from floodwall.reporting.text import render_text
from floodwall.settings.values import ReconConfig
from tests.reporting.ledger import NOW, fill


def report_of(tmp_path: Path) -> Report:
    """The last day's report of the test ledger (offline data tells the networks)."""
    database = fill(tmp_path / "state.sqlite3")
    enricher = build_enricher(ReconConfig(), database, network=False)
    return build_report(database, since=NOW - 86400, now=NOW, lookup=enricher.known,
                        requests=request_reader())


def test_counts_top_lists_and_repeat_offenders(tmp_path: Path) -> None:
    report = report_of(tmp_path)
    assert (report.bans, report.addresses, report.failures) == (5, 4, 8)
    assert report.bucket_seconds == 3600 and len(report.timeline) == 24
    assert sum(b.bans for b in report.timeline) == 5
    assert sum(b.failures for b in report.timeline) == 8
    assert [(c.label, c.value) for c in report.top_jails] == [
        ("http-get-dos", 2), ("wordpress", 2), ("sshd", 1)]
    assert [(c.label, c.value) for c in report.top_asns] == [
        ("GOOGLE", 3), ("CLOUDFLARENET", 1), ("unknown", 1)]
    assert [c.label for c in report.top_countries][:1] == ["US"]
    assert [(c.label, c.value) for c in report.top_vhosts] == [
        ("shop.example", 5), ("blog.example", 3)]
    assert [(c.label, c.value) for c in report.top_paths][:2] == [
        ("/.env", 2), ("/wp-login.php", 2)]
    assert [(o.address, o.bans, o.jails) for o in report.repeat_offenders] == [
        ("8.8.8.8", 2, ("http-get-dos", "wordpress"))]
    shares = {c.label: round(c.share, 3) for c in report.network_share}
    assert shares == {"GOOGLE": 0.75, "CLOUDFLARENET": 0.25}


def test_terminal_tables(tmp_path: Path) -> None:
    text = render_text(report_of(tmp_path))
    assert "5 bans of 4 addresses, 8 failures" in text
    lines = text.splitlines()
    top_networks = lines.index("== top networks (AS) ==")
    assert lines[top_networks + 2].split() == ["GOOGLE", "3", "60%"]
    offenders = lines.index("== repeat offenders ==")
    assert lines[offenders + 2].split() == ["8.8.8.8", "2", "http-get-dos,wordpress", "GOOGLE",
                                            "US"]
