"""Counting windows saved to a real SQLite database at stop and taken back at start."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from floodwall.detection.saved_windows import restore_windows, save_windows
from floodwall.model import Failure
from floodwall.pipeline import Pipeline
from floodwall.storage.database import Database
from tests.support.configs import load, scanner_jail

NOW = 1_800_000_000.0


def _pipeline(root: Path, *names: str) -> Pipeline:
    return Pipeline(load(root, {name: scanner_jail(root / f"{name}.log", maxretry=4)
                                for name in names}))


def test_windows_come_back_for_the_jails_still_configured(tmp_path: Path) -> None:
    before = _pipeline(tmp_path, "web", "gone")
    for when in (NOW, NOW + 1):
        before.jails["web"].windows.add(Failure("web", "192.0.2.7", when, "web.log", 1, "x"))
    before.jails["gone"].windows.add(Failure("gone", "192.0.2.8", NOW, "gone.log", 1, "x"))
    database = Database(str(tmp_path / "state.sqlite3"))
    save_windows(before.jails, database)

    after = _pipeline(tmp_path, "web")
    restore_windows(after.jails, database)
    assert after.jails["web"].windows.count("192.0.2.7") == 2
    assert list(after.jails["web"].windows.keys()) == ["192.0.2.7"]
    database.close()


def test_a_database_that_refuses_the_write_is_logged_not_raised(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    database = Database(str(tmp_path / "state.sqlite3"))
    database._db.execute("PRAGMA query_only = 1")  # every write now fails in SQLite itself
    pipeline = _pipeline(tmp_path, "web")
    pipeline.jails["web"].windows.add(Failure("web", "192.0.2.7", NOW, "web.log", 1, "x"))
    with caplog.at_level(logging.ERROR):
        save_windows(pipeline.jails, database)
    assert "the counting windows were not saved" in caplog.text
    database.close()
