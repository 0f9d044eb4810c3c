"""The jails' counting windows kept in the database across a restart (a restart forgets no
count)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from floodwall.detection.jail import Jail
from floodwall.errors import StorageError
from floodwall.storage.database import Database, WindowRow

log = logging.getLogger("floodwall")


def save_windows(jails: Mapping[str, Jail], database: Database) -> None:
    """Keep every jail's counting windows for the next start; a storage error is logged."""
    rows = (WindowRow(name, key, times, evidence)
            for name, jail in jails.items()
            for key, times, evidence in jail.windows.export())
    try:
        saved = database.save_windows(rows)
    except StorageError as problem:
        log.error("the counting windows were not saved (the next start counts from "
                  "zero): %s", problem)
        return
    log.info("saved %d counting window(s) for the next start", saved)


def restore_windows(jails: Mapping[str, Jail], database: Database) -> None:
    """Take back the windows the last stop saved, for the jails still configured."""
    restored = 0
    try:
        for row in database.load_windows():
            jail = jails.get(row.jail)
            if jail is not None:
                jail.windows.restore(row.key, row.times, row.evidence)
                restored += 1
    except StorageError as problem:
        log.error("the saved counting windows could not be read (counting starts from "
                  "zero): %s", problem)
    if restored:
        log.info("took back %d counting window(s) from the last run", restored)
