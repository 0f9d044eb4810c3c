"""`floodwall report --html FILE --audit URL`: the header audit as a section of the report."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from pathlib import Path

from floodwall.cli.main import main
from tests.audit.servers import recording_server
from tests.support.configs import floodwall_toml


def _bare(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", "2")
    handler.end_headers()
    if handler.command == "GET":
        handler.wfile.write(b"ok")


def test_html_report_carries_the_graded_audit(tmp_path: Path) -> None:
    config = floodwall_toml(tmp_path, {"web": {"logpath": "/x"}})
    page = tmp_path / "report.html"
    with recording_server(_bare) as (port, recorder):
        url = f"http://127.0.0.1:{port}/"
        assert main(["report", "--config", str(config), "--html", str(page),
                     "--audit", url]) == 0
    html = page.read_text()
    assert '<section class="floodwall-audit">' in html and f'href="{url}"' in html
    assert '<td class="grade">F</td>' in html  # no security header at all
    assert set(recorder.methods) <= {"GET", "HEAD"} and recorder.methods
    without = tmp_path / "plain.html"
    assert main(["report", "--config", str(config), "--html", str(without)]) == 0
    assert "floodwall-audit" not in without.read_text()
