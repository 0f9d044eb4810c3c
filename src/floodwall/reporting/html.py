"""The report as one self-contained HTML page: inline CSS and SVG charts, nothing fetched.

The daemon's dashboard is the same page with the active bans added and a small inline
script that refreshes it; the saved report has no script at all. Every text that comes
from logs (paths, vhosts, names) is escaped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from floodwall.reporting.stats import Count, Report
from floodwall.settings.durations import format_duration

BAN_COLOUR = "#c0392b"
FAILURE_COLOUR = "#e67e22"
BAR_COLOUR = "#2e86c1"
"""Chart colours (also what the rendering tests look for in screenshots)."""

_STYLE = f"""
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 0 2em 2em; color: #222; background: #fff; }}
h1 {{ font-size: 1.5em; margin: .8em 0 .2em; }} h2 {{ font-size: 1.1em; margin: 1.2em 0 .4em; }}
.grid {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 0 2em; }}
table {{ border-collapse: collapse; font-size: 13px; }}
td, th {{ padding: 2px 8px; border-bottom: 1px solid #ddd; text-align: left; }}
th {{ background: #f3f3f3; }} .num {{ text-align: right; }}
.legend span {{ display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 12px; }}
.ban {{ background: {BAN_COLOUR}; }} .failure {{ background: {FAILURE_COLOUR}; }}
svg text {{ font: 11px system-ui, sans-serif; fill: #333; }}
input {{ font: inherit; padding: 3px 6px; width: 20em; }}
"""

_LIVE_SCRIPT = """
const search = document.getElementById('search');
function filterBans() {
  const needle = search.value.toLowerCase();
  for (const row of document.querySelectorAll('#bans tbody tr')) {
    row.hidden = needle !== '' && !row.textContent.toLowerCase().includes(needle);
  }
}
search.addEventListener('input', filterBans);
async function refresh() {
  try {
    const answer = await fetch('fragment' + location.search, {cache: 'no-store'});
    if (answer.ok) {
      document.getElementById('live').innerHTML = await answer.text(); filterBans();
    }
  } catch (problem) { /* the daemon restarts: try again at the next tick */ }
}
setInterval(refresh, REFRESH_MS);
"""


@dataclass(frozen=True, slots=True)
class ActiveBan:
    """One row of the dashboard's table of active bans."""

    address: str
    jail: str
    start: float
    remaining: float | None
    failures: int
    network: str
    country: str | None
    reason: str


def render_html(report: Report, *, title: str = "floodwall report",
                bans: Sequence[ActiveBan] | None = None, refresh_seconds: int = 0,
                sections: Sequence[str] = ()) -> str:
    """The whole page; with `bans` (the dashboard) a searchable active-bans table too;
    `sections` are ready-made HTML fragments appended (e.g. the header audit)."""
    script = ""
    search = ""
    if bans is not None and refresh_seconds > 0:
        script = "<script>" + _LIVE_SCRIPT.replace("REFRESH_MS", str(refresh_seconds * 1000)) \
            + "</script>"
    if bans is not None:
        search = ('<p><label>search bans <input id="search" type="search" '
                  'placeholder="address, jail, network, country"></label></p>')
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="icon" href="data:,"><title>{escape(title)}</title>'
            f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>{search}"
            f'<div id="live">{render_body(report, bans)}</div>{"".join(sections)}{script}'
            "</body></html>\n")


def render_body(report: Report, bans: Sequence[ActiveBan] | None = None) -> str:
    """The part of the page that changes: summary, charts, tables (and active bans)."""
    summary = (f'<p id="summary">{_when(report.since)} &ndash; {_when(report.until)}: '
               f"<b>{report.bans}</b> bans of <b>{report.addresses}</b> addresses, "
               f"<b>{report.failures}</b> failures in their evidence</p>")
    parts = [summary]
    if bans is not None:
        parts.append(_active_bans(bans))
    parts.append(f"<h2>Bans and failures per {format_duration(report.bucket_seconds)}</h2>"
                 '<p class="legend"><span class="ban"></span>bans'
                 '<span class="failure"></span>failures</p>' + _timeline(report))
    parts.append('<div class="grid">')
    for title, rows in (("Top jails", report.top_jails), ("Top networks (AS)", report.top_asns),
                        ("Top countries", report.top_countries),
                        ("Top attacked vhosts", report.top_vhosts),
                        ("Top attacked paths", report.top_paths),
                        ("Share of attack traffic by network", report.network_share)):
        parts.append(f"<section><h2>{title}</h2>{_bars(rows)}</section>")
    parts.append("</div><h2>Repeat offenders</h2>" + _table(
        ["address", "bans", "jails", "network", "country"],
        [[o.address, str(o.bans), ", ".join(o.jails), o.network, o.country or "-"]
         for o in report.repeat_offenders], numeric=frozenset({1})))
    return "".join(parts)


def _active_bans(bans: Sequence[ActiveBan]) -> str:
    rows = [[b.address, b.jail, _when(b.start), format_duration(b.remaining), str(b.failures),
             b.network, b.country or "-", b.reason] for b in bans]
    return (f'<h2>Active bans ({len(bans)})</h2><div id="bans">' + _table(
        ["address", "jail", "since", "left", "failures", "network", "country", "reason"], rows,
        numeric=frozenset({4})) + "</div>")


def _timeline(report: Report) -> str:
    width, height, left, bottom = 900, 200, 40, 20
    buckets = report.timeline
    peak = max([1, *(max(b.bans, b.failures) for b in buckets)])
    step = (width - left) / max(1, len(buckets))
    bar = max(1.0, step * 0.4)
    axis = (f'<line x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" '
            'stroke="#999"/>')
    shapes = [axis,
              f'<text x="0" y="12">{peak}</text><text x="0" y="{height - bottom}">0</text>']
    for index, bucket in enumerate(buckets):
        x = left + index * step
        for offset, value, colour in ((0.0, bucket.failures, FAILURE_COLOUR),
                                      (bar, bucket.bans, BAN_COLOUR)):
            if value:
                h = max(2.0, (height - bottom - 4) * value / peak)
                shapes.append(f'<rect x="{x + offset:.1f}" y="{height - bottom - h:.1f}" '
                              f'width="{bar:.1f}" height="{h:.1f}" fill="{colour}">'
                              f"<title>{_when(bucket.start)}: {bucket.bans} bans, "
                              f"{bucket.failures} failures</title></rect>")
    labels = {0, len(buckets) // 2, len(buckets) - 1} if buckets else set()
    for index in sorted(labels):
        anchor = "end" if index == len(buckets) - 1 and index else "start"
        x = width if anchor == "end" else left + index * step
        shapes.append(f'<text x="{x:.1f}" y="{height - 4}" text-anchor="{anchor}">'
                      f"{_when(buckets[index].start)}</text>")
    return (f'<svg id="timeline" role="img" aria-label="bans and failures over time" '
            f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
            + "".join(shapes) + "</svg>")


def _bars(rows: tuple[Count, ...]) -> str:
    if not rows:
        return "<p>(none)</p>"
    label_width, bar_width, line = 170, 190, 20
    peak = max(c.value for c in rows) or 1
    shapes = []
    for index, count in enumerate(rows):
        y = index * line
        w = max(2.0, bar_width * count.value / peak)
        label = count.label if len(count.label) <= 28 else count.label[:27] + "…"
        shapes.append(f'<text x="0" y="{y + 14}">{escape(label)}<title>{escape(count.label)}'
                      f"</title></text>"
                      f'<rect x="{label_width}" y="{y + 3}" width="{w:.1f}" height="14" '
                      f'fill="{BAR_COLOUR}"/>'
                      f'<text x="{label_width + w + 6:.1f}" y="{y + 14}">{count.value} '
                      f"({count.share:.0%})</text>")
    total = label_width + bar_width + 80
    return (f'<svg class="bars" width="{total}" height="{len(rows) * line}" '
            f'viewBox="0 0 {total} {len(rows) * line}">' + "".join(shapes) + "</svg>")


def _table(headers: list[str], rows: list[list[str]],
           numeric: frozenset[int] = frozenset()) -> str:
    if not rows:
        return "<p>(none)</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(
        f'<td{" class=num" if i in numeric else ""}>{escape(cell)}</td>'
        for i, cell in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _when(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds).astimezone().strftime("%Y-%m-%d %H:%M")
