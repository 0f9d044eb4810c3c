"""Handing imported bans over: to the running daemon, which enforces them at once, or, when
none runs, to the ledger database, from which the daemon enforces them at its next start."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator, Sequence
from typing import Any

from floodwall.bans.ledger import Ledger
from floodwall.bans.service import MANUAL_JAIL, BanService
from floodwall.bans.transfer import Entry, Intake, entry_record
from floodwall.clock import ManualClock
from floodwall.enforcement.recording import RecordingEnforcer
from floodwall.errors import ControlError, ImportFileError
from floodwall.server.control import request
from floodwall.server.wiring import ban_policy
from floodwall.settings.values import Config
from floodwall.storage.database import Database

MAX_CHUNK_BYTES = 48_000
"""Largest import request sent to the daemon (its control socket reads at most 64 KiB)."""


def deliver(config: Config, entries: Sequence[Entry], now: float) -> tuple[Intake, bool]:
    """Take the entries in through the daemon if it runs, else into the database; returns
    what was done and whether the daemon did it."""
    if daemon_running(config.socket):
        total = Intake()
        for chunk in _chunks([entry_record(e.ban, e.ended) for e in entries]):
            answer = request(config.socket, "import", bans=chunk)
            total += Intake(answer["enforced"], answer["history"], answer["known"],
                            tuple(answer["allowlisted"]))
        return total, True
    return into_database(config, entries, now), False


def into_database(config: Config, entries: Sequence[Entry], now: float) -> Intake:
    """Take the entries into the ledger database directly (no daemon running), through the
    ban path as the daemon would; the firewall is left alone: the next start enforces them."""
    database = Database(config.database)
    try:
        bans = BanService(config, Ledger(database), ban_policy(config, database),
                          RecordingEnforcer(), ManualClock(now))
        return bans.take_in(entries)
    finally:
        database.close()


def check_import_jail(config: Config, jail: str) -> None:
    """Refuse to import into a jail the configuration does not have (nor 'manual')."""
    names = [MANUAL_JAIL, *(j.name for j in config.enabled_jails())]
    if jail not in names:
        raise ImportFileError(f"no enabled jail named {jail!r} in {config.path}; use one of "
                              f"{', '.join(names)}")


def daemon_running(path: str) -> bool:
    """Whether a daemon answers on the control socket at `path`."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        try:
            sock.connect(path)
        except (FileNotFoundError, ConnectionRefusedError):
            return False
        except PermissionError:
            raise ControlError(f"{path}: permission denied; importing needs root, like the "
                               "daemon") from None
        except OSError as problem:
            raise ControlError(f"{path}: cannot reach the daemon: {problem}") from None
    return True


def _chunks(records: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    size = 0
    for record in records:
        length = len(json.dumps(record)) + 2
        if chunk and size + length > MAX_CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
        chunk.append(record)
        size += length
    if chunk:
        yield chunk
