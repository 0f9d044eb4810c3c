"""The report as plain terminal tables."""

from __future__ import annotations

import datetime as dt

from floodwall.reporting.stats import Count, Report
from floodwall.settings.durations import format_duration
from floodwall.terminal import printable


def render_text(report: Report) -> str:
    """Every section of the report as aligned text tables."""
    heading = (f"floodwall report {_when(report.since)} .. {_when(report.until)}: "
               f"{report.bans} bans of {report.addresses} addresses, "
               f"{report.failures} failures in their evidence")
    out = [heading, ""]
    busy = [b for b in report.timeline if b.bans or b.failures]
    out += _section(f"bans and failures per {format_duration(report.bucket_seconds)}",
                    ["from", "bans", "failures"],
                    [[_when(b.start), str(b.bans), str(b.failures)] for b in busy])
    for title, rows, what in (
            ("top jails", report.top_jails, "bans"),
            ("top networks (AS)", report.top_asns, "bans"),
            ("top countries", report.top_countries, "bans"),
            ("top attacked vhosts", report.top_vhosts, "failures"),
            ("top attacked paths", report.top_paths, "failures"),
            ("share of attack traffic by network", report.network_share, "failures")):
        out += _section(title, ["", what, "share"], _count_rows(rows))
    out += _section("repeat offenders", ["address", "bans", "jails", "network", "country"],
                    [[o.address, str(o.bans), ",".join(o.jails), o.network, o.country or "-"]
                     for o in report.repeat_offenders])
    return "\n".join(out).rstrip() + "\n"


def table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """Aligned lines of a table (header first), control characters in cells escaped (paths
    and vhosts come from logs)."""
    shown = [[printable(cell) for cell in row] for row in [headers, *rows]]
    widths = [max(len(cell) for cell in column) for column in zip(*shown, strict=False)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip()
            for row in shown]


def _section(title: str, headers: list[str], rows: list[list[str]]) -> list[str]:
    return [f"== {title} ==", *(table(headers, rows) if rows else ["(none)"]), ""]


def _count_rows(rows: tuple[Count, ...]) -> list[list[str]]:
    return [[c.label, str(c.value), f"{c.share:.0%}"] for c in rows]


def _when(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds).astimezone().strftime("%Y-%m-%d %H:%M")
