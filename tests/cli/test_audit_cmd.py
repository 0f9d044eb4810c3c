"""`floodwall audit` against a small HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from floodwall.cli.main import main
from tests.audit.servers import Recorder, free_ports, recording_server


def page(handler: BaseHTTPRequestHandler) -> None:
    body = b"<html><body>hello</body></html>"
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@pytest.fixture
def server() -> Iterator[tuple[int, Recorder]]:
    with recording_server(page) as running:
        yield running


def test_json_output_has_one_graded_object_per_url(
        server: tuple[int, Recorder], capsys: pytest.CaptureFixture[str]) -> None:
    port, recorder = server
    url = f"http://127.0.0.1:{port}/"
    assert main(["audit", "--json", "--rate", "100", "--timeout", "2", url]) == 0
    [site] = json.loads(capsys.readouterr().out)
    assert site["url"] == site["final_url"] == url
    assert site["grade"] == "F"
    assert "add_header X-Content-Type-Options \"nosniff\" always;" in site["nginx"]
    assert set(recorder.methods) == {"GET"}


def test_vhosts_of_a_config_directory_are_audited(
        server: tuple[int, Recorder], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port, recorder = server
    (tmp_path / "sites-enabled").mkdir()
    (tmp_path / "sites-enabled" / "local").write_text(
        f"server {{ listen 127.0.0.1:{port}; server_name localhost; }}\n")
    assert main(["audit", "--vhosts", "--config-dir", str(tmp_path), "--rate", "100"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].startswith(f"http://localhost:{port}/  F ")
    assert recorder.methods == ["GET", "GET"]


def test_unreachable_sites_are_reported_and_exit_1() -> None:
    [port] = free_ports(1)
    result = subprocess.run(
        [sys.executable, "-m", "floodwall", "audit", "--timeout", "2", f"http://127.0.0.1:{port}/"],
        check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    assert f"unreachable: connection refused (http://127.0.0.1:{port}/)" in result.stdout


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit"]) == 2
    assert "give URLs, or --vhosts" in capsys.readouterr().err
    assert main(["audit", "--vhosts", "--config-dir", str(tmp_path / "nope")]) == 1
    assert "nope: not a directory" in capsys.readouterr().err
    assert main(["audit", "--vhosts", "--config-dir", str(tmp_path)]) == 1
    assert "no server_name, ServerName or ServerAlias" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["audit", "--rate", "0", "http://127.0.0.1:1/"])
