"""`floodwall regex` as a real process: the machine contract and the human report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.matching.fail2ban import f2b_samples as samples

CONTRACT_FILTERS = ("sshd", "asterisk", "apache-auth", "zzz-sshd-obsolete-multiline")
"""Corpus filters run through the command: mlfid, journal with prefix line, {DATE}, maxlines."""


def _floodwall(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TZ=samples.TEST_TZ)
    return subprocess.run([sys.executable, "-m", "floodwall", *args], capture_output=True,
                          text=True, timeout=120, env=env, check=False)


def _run_instance(tmp_path: Path, path: Path, options: dict[str, str],
                  lines: list[str]) -> dict[int, list[dict[str, Any]]]:
    log = tmp_path / "sample.log"
    log.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    args = ["regex", "--json", "--now", str(samples.TEST_NOW)]
    if options:
        args += ["--filter-options", json.dumps(options)]
    result = _floodwall(*args, str(log), str(path))
    assert result.returncode == 0, result.stderr
    reported: dict[int, list[dict[str, Any]]] = {}
    for text in result.stdout.splitlines():
        failure = json.loads(text)
        reported.setdefault(failure["lineno"], []).append(failure)
    return reported


def test_contract_output_scores_corpus_samples(tmp_path: Path) -> None:
    tests_dir = samples.package_tests_dir()
    if tests_dir is None:
        pytest.skip("SKIPPED LOUDLY: Debian's fail2ban package is not installed "
                    "(apt-get install -y fail2ban)")
    paths = samples.filter_paths(tests_dir, tmp_path / "filters")
    checked = 0
    with samples.fail2ban_timezone():
        checked = _score_through_command(tmp_path, tests_dir, paths)
    assert checked > 500


def _score_through_command(tmp_path: Path, tests_dir: Path, paths: dict[str, Path]) -> int:
    checked = 0
    for name in CONTRACT_FILTERS:
        by_instance: dict[str, list[samples.Sample]] = {}
        for sample in samples.walk(tests_dir / "files" / "logs", name):
            by_instance.setdefault(sample.instance, []).append(sample)
        for instance_samples in by_instance.values():
            first = instance_samples[0]
            prefix = first.all_options.get("test.prefix-line", "") \
                if first.options.get("logtype") == "journal" else ""
            lines = [prefix + sample.line for sample in instance_samples]
            reported = _run_instance(tmp_path, paths[name], first.options, lines)
            for lineno, sample in enumerate(instance_samples, 1):
                problem = samples.verdict(sample.expected, reported.get(lineno, []))
                assert problem is None, f"{sample.instance} {sample.where}: {problem}"
                checked += 1
    return checked


def test_human_report_for_a_filter_name_and_a_single_line() -> None:
    if not os.path.exists("/etc/fail2ban/filter.d/sshd.conf"):
        pytest.skip("SKIPPED LOUDLY: Debian's fail2ban package is not installed")
    line = "Aug 14 11:59:59 h sshd[7]: Failed password for root from 192.0.2.7 port 22 ssh2"
    result = _floodwall("regex", line, "sshd")
    assert result.returncode == 0, result.stderr
    assert "1 read, 1 matched, 0 missed" in result.stdout
    assert "MON Day" in result.stdout  # the date template that was used


def test_print_all_matched_lists_each_failures_lines(tmp_path: Path) -> None:
    if not os.path.exists("/etc/fail2ban/filter.d/sshd.conf"):
        pytest.skip("SKIPPED LOUDLY: Debian's fail2ban package is not installed")
    log = tmp_path / "auth.log"
    log.write_text(
        "Aug 14 11:59:58 h sshd[7]: Connection from 192.0.2.7 port 22\n"
        "Aug 14 11:59:59 h sshd[7]: Failed password for root from 192.0.2.7 port 22 ssh2\n"
        "Aug 14 11:59:59 h sshd[8]: Accepted publickey for deploy from 192.0.2.9 port 22\n")
    result = _floodwall("regex", "--print-all-matched", str(log), "sshd")
    assert result.returncode == 0, result.stderr
    listed = result.stdout.split("Matched line(s): ", 1)[1].splitlines()
    # the failure of connection 7 carries its earlier (NOFAIL) line too; 8 logged in
    assert listed[0] == "2" and [line.strip() for line in listed[1:]] == (
        log.read_text().splitlines()[:2])
    assert "Matched line(s)" not in _floodwall("regex", str(log), "sshd").stdout


def test_missing_filter_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    result = _floodwall("regex", "some line", str(tmp_path / "filter.d" / "nope.conf"))
    assert result.returncode == 1
    assert "nope.conf" in result.stderr and "Traceback" not in result.stderr
