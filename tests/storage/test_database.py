"""Tests of the SQLite state database: WAL mode, permissions, positions."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from floodwall.errors import StorageError
from floodwall.sources.offsets import Position
from floodwall.storage.database import Database


def test_database_is_wal_and_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "floodwall.sqlite3"
    Database(path).close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_positions_round_trip_and_update(tmp_path: Path) -> None:
    database = Database(tmp_path / "s.db")
    database.save_positions({"/var/log/a": Position(11, 100, 5, "aa"),
                             "/var/log/b": Position(12, 7, 1, "bb")})
    database.save_positions({"/var/log/a": Position(11, 180, 9, "aa")})
    assert database.load_positions() == {"/var/log/a": Position(11, 180, 9, "aa"),
                                         "/var/log/b": Position(12, 7, 1, "bb")}


def test_unusable_location_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="state_dir"):
        Database(blocker / "sub" / "floodwall.sqlite3")
