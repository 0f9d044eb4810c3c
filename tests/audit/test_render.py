"""The terminal table, the JSON and the HTML report section."""

from __future__ import annotations

import json
from html.parser import HTMLParser

from floodwall.audit.model import Finding, Hop, Severity, SiteResult
from floodwall.audit.render import html_section, table, text_report, to_json

GRADED = SiteResult(
    url="http://shop.example/", final_url="https://shop.example/", status=200,
    redirects=(Hop("http://shop.example/", 301),), grade="C", score=60,
    findings=(Finding("Content-Security-Policy", Severity.HIGH, "missing <script> limits"),
              Finding("Referrer-Policy", Severity.LOW, "missing"),
              Finding("Strict-Transport-Security", Severity.INFO, "no preload")),
    nginx="add_header X-Content-Type-Options \"nosniff\" always;\n",
    apache="Header always set X-Content-Type-Options \"nosniff\"\n",
    csp="default-src 'self'",
)
FAILED = SiteResult(url="http://slow.example/", final_url=None, status=None, redirects=(),
                    grade=None, score=None, findings=(), nginx="", apache="", csp="",
                    error="timed out after 2 s waiting for http://slow.example/")


def test_json_has_one_object_per_site_with_the_documented_keys() -> None:
    graded, failed = json.loads(to_json([GRADED, FAILED]))
    assert {"url", "final_url", "grade", "findings", "nginx", "apache"} <= graded.keys()
    assert graded["grade"] == "C" and graded["final_url"] == "https://shop.example/"
    assert graded["redirects"] == [{"url": "http://shop.example/", "status": 301}]
    assert graded["findings"][0] == {"header": "Content-Security-Policy", "severity": "high",
                                     "message": "missing <script> limits"}
    assert failed["grade"] is None and failed["error"].startswith("timed out")


def test_table_rows_show_grade_counts_and_notes() -> None:
    lines = table([GRADED, FAILED]).splitlines()
    assert lines[0].split() == ["URL", "GRADE", "SCORE", "FINDINGS", "NOTE"]
    assert lines[1].split()[:6] == ["http://shop.example/", "C", "60", "1", "high,", "1"]
    assert lines[1].endswith("-> https://shop.example/")
    assert lines[2].split()[:4] == ["http://slow.example/", "-", "-", "-"]
    assert lines[2].endswith("timed out after 2 s waiting for http://slow.example/")


def test_text_report_lists_findings_and_fixes_after_the_table() -> None:
    report = text_report([GRADED, FAILED])
    assert "  redirect 301 from http://shop.example/" in report
    assert "  high    Content-Security-Policy: missing <script> limits" in report
    assert "    add_header X-Content-Type-Options \"nosniff\" always;" in report
    assert "http://slow.example/: timed out after 2 s" in report


def test_html_section_is_escaped_and_well_formed() -> None:
    section = html_section([GRADED, FAILED])
    assert "<script>" not in section and "missing &lt;script&gt; limits" in section
    opened: list[str] = []

    class Balance(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            opened.append(tag)

        def handle_endtag(self, tag: str) -> None:
            assert opened.pop() == tag

    Balance().feed(section)
    assert opened == []
    assert section.count("<tr>") == 3 and section.count("<details>") == 1
