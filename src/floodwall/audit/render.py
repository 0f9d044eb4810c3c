"""Showing audit results: a terminal table with details, JSON, and an HTML report section."""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from typing import Any

from floodwall.audit.model import Severity, SiteResult

_COUNTED = (Severity.HIGH, Severity.MEDIUM, Severity.LOW)


def site_dict(result: SiteResult) -> dict[str, Any]:
    """One site as a JSON-ready dict."""
    return {
        "url": result.url,
        "final_url": result.final_url,
        "status": result.status,
        "redirects": [{"url": hop.url, "status": hop.status} for hop in result.redirects],
        "grade": result.grade,
        "score": result.score,
        "error": result.error,
        "findings": [{"header": f.header, "severity": f.severity.value, "message": f.message}
                     for f in result.findings],
        "nginx": result.nginx,
        "apache": result.apache,
        "csp": result.csp,
    }


def to_json(results: Sequence[SiteResult]) -> str:
    """A JSON array with one object per site."""
    return json.dumps([site_dict(result) for result in results], indent=2)


def _counts(result: SiteResult) -> str:
    """'2 high, 1 low' style summary of the findings that cost points."""
    parts = [f"{sum(f.severity is s for f in result.findings)} {s.value}" for s in _COUNTED]
    return ", ".join(part for part in parts if not part.startswith("0 ")) or "none"


def _note(result: SiteResult) -> str:
    """The error, or where the redirects led."""
    if result.error:
        return result.error
    if result.redirects:
        return f"-> {result.final_url}"
    return ""


def table(results: Sequence[SiteResult]) -> str:
    """A summary table: one row per site with grade, score, findings and a note."""
    rows = [("URL", "GRADE", "SCORE", "FINDINGS", "NOTE")]
    for r in results:
        rows.append((r.url, r.grade or "-", "-" if r.score is None else str(r.score),
                     "-" if r.error else _counts(r), _note(r)))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True))
        + "  " + row[4]
        for row in rows).rstrip() + "\n"


def details(result: SiteResult) -> str:
    """Findings, redirects and fixes of one site, indented for the terminal."""
    if result.error:
        return f"{result.url}: {result.error}\n"
    heading = (f"{result.url}: grade {result.grade} ({result.score}/100), "
               f"HTTP {result.status} from {result.final_url}")
    lines = [heading]
    for hop in result.redirects:
        lines.append(f"  redirect {hop.status} from {hop.url}")
    for finding in result.findings:
        lines.append(f"  {finding.severity.value:<6}  {finding.header}: {finding.message}")
    for label, snippet in (("nginx", result.nginx), ("apache", result.apache)):
        if snippet:
            lines.append(f"  {label}:")
            lines += [f"    {line}" for line in snippet.splitlines()]
    return "\n".join(lines) + "\n"


def text_report(results: Sequence[SiteResult]) -> str:
    """The table followed by each site's details."""
    return table(results) + "".join("\n" + details(result) for result in results)


def html_section(results: Sequence[SiteResult]) -> str:
    """A self-contained `<section>` of the HTML report: grades, findings and fixes."""
    rows = []
    for r in results:
        rows.append(
            "<tr>"
            f"<td><a href=\"{escape(r.url)}\">{escape(r.url)}</a></td>"
            f"<td class=\"grade\">{escape(r.grade or '-')}</td>"
            f"<td>{'-' if r.score is None else r.score}</td>"
            f"<td>{escape('-' if r.error else _counts(r))}</td>"
            f"<td>{escape(_note(r))}</td>"
            "</tr>")
    blocks = [_html_site(r) for r in results if not r.error]
    return (
        "<section class=\"floodwall-audit\">\n<h2>Security headers</h2>\n"
        "<table>\n<thead><tr><th>URL</th><th>Grade</th><th>Score</th><th>Findings</th>"
        "<th>Note</th></tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>\n"
        + "".join(blocks) + "</section>\n")


def _html_site(result: SiteResult) -> str:
    """One site's findings and fixes as a collapsible block."""
    items = "".join(
        f"<li class=\"{f.severity.value}\"><b>{escape(f.severity.value)}</b> "
        f"<code>{escape(f.header)}</code>: {escape(f.message)}</li>\n"
        for f in result.findings)
    fixes = "".join(
        f"<h4>{label}</h4>\n<pre>{escape(snippet)}</pre>\n"
        for label, snippet in (("nginx", result.nginx), ("Apache", result.apache)) if snippet)
    csp = f"<h4>Suggested Content-Security-Policy</h4>\n<pre>{escape(result.csp)}</pre>\n"
    return (f"<details>\n<summary>{escape(result.url)}: {escape(result.grade or '-')}"
            f"</summary>\n<ul>\n{items}</ul>\n{fixes}{csp}</details>\n")
