"""Follows the systemd journal for a jail (fail2ban's `backend = systemd`) through journalctl.

Each entry becomes the line fail2ban's systemd backend makes of it ("HOST IDENT[PID]: MESSAGE")
with the entry's own time. journalctl runs with an argument list (never a shell); the cursor
of the last entry read is kept so a restart goes on after it, and a first start reads back
`findtime` seconds, as fail2ban does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import time
from collections.abc import AsyncGenerator
from typing import Any

from floodwall.model import SourceLine
from floodwall.settings.values import JournalConfig

log = logging.getLogger("floodwall.sources")

JOURNALCTL = "journalctl"
RESTART_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)
"""Waits before starting journalctl again after it ended, longer each time (the last one
repeats)."""
PREFIX = "journal:"


def journal_path(jail: str) -> str:
    """The name a jail's journal lines carry where a file's lines carry its path."""
    return PREFIX + jail


def journal_command(config: JournalConfig, *, cursor: str | None, since: float) -> list[str]:
    """journalctl's arguments: follow from after `cursor` (or from `since`), JSON out."""
    command = [JOURNALCTL, "--follow", "--output=json", "--all", "--no-pager", "--quiet"]
    command.append(f"--after-cursor={cursor}" if cursor else f"--since=@{int(since)}")
    if config.directory:
        command.append(f"--directory={config.directory}")
    command += [f"--file={path}" for path in config.files]
    command += ["--system"] * config.system + ["--user"] * config.user
    if config.namespace:
        command.append(f"--namespace={config.namespace}")
    return [*command, *config.matches]


def _text(value: Any) -> str:
    """A journal field as text: journalctl gives non-UTF-8 values as lists of byte values."""
    if isinstance(value, list):
        if all(isinstance(item, int) for item in value):
            return bytes(item & 0xFF for item in value).decode("utf-8", "replace")
        return " ".join(_text(item) for item in value)
    return "" if value is None else str(value)


def format_entry(entry: dict[str, Any]) -> str:
    """The line fail2ban's systemd backend builds from an entry: host, identifier[pid]:,
    message (newlines shown as \\n)."""
    elements: list[str] = []
    host = _text(entry.get("_HOSTNAME"))
    if host:
        elements.append(host)
    ident = _text(entry.get("SYSLOG_IDENTIFIER")) or _text(entry.get("_COMM"))
    if ident:
        pid = _text(entry.get("SYSLOG_PID")) or _text(entry.get("_PID"))
        if pid:
            with contextlib.suppress(ValueError):
                pid = str(int(pid, 0))
            ident += f"[{pid}]"
        ident += ":"
        elements.append(ident)
        if ident == "kernel:":
            monotonic = (entry.get("_SOURCE_MONOTONIC_TIMESTAMP")
                         or entry.get("__MONOTONIC_TIMESTAMP") or "0")
            with contextlib.suppress(ValueError):
                elements.append(f"[{int(_text(monotonic)) / 1e6:12.6f}]")
    elements.append(_text(entry.get("MESSAGE")))
    return " ".join(elements).replace("\n", "\\n")


def entry_time(entry: dict[str, Any]) -> float | None:
    """The entry's time (its source's, else the journal's), None if it has none."""
    for field in ("_SOURCE_REALTIME_TIMESTAMP", "__REALTIME_TIMESTAMP"):
        value = _text(entry.get(field))
        if value.isdigit():
            return int(value) / 1e6
    return None


class JournalFollower:
    """One jail's journal lines, as batches of SourceLines, for as long as it is iterated.

    `cursor` is where the last run stopped (None: start `findtime` back); `cursor` then
    follows the entries handed out, for the caller to keep.
    """

    def __init__(self, jail: str, config: JournalConfig, findtime: float, *,
                 cursor: str | None) -> None:
        self.jail = jail
        """The jail whose lines these are."""
        self.path = journal_path(jail)
        """The name the lines carry."""
        self._config = config
        self._findtime = findtime
        self.cursor = cursor
        """Cursor of the last entry handed out."""
        self._lineno = 0
        self.entries = 0
        """Entries read since start."""
        self.bad_entries = 0
        """Output lines of journalctl that were not a journal entry (skipped)."""

    async def batches(self) -> AsyncGenerator[list[SourceLine], None]:
        """Lines as journalctl reports entries; journalctl is started again if it ends.
        Iterate it inside `contextlib.aclosing`: closing (or cancelling) ends journalctl."""
        if shutil.which(JOURNALCTL) is None:
            log.error("jail %s: journalctl is not installed (Debian package systemd); the "
                      "jail reads nothing", self.jail)
            return
        failures = 0
        while True:
            command = journal_command(self._config, cursor=self.cursor,
                                      since=time.time() - self._findtime)
            process = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, limit=1 << 20)
            assert process.stdout is not None and process.stderr is not None
            read_any = False
            try:
                while True:
                    try:
                        raw = await process.stdout.readline()
                    except ValueError:  # an entry longer than the limit: it is skipped
                        self.bad_entries += 1
                        continue
                    if not raw:
                        break
                    line = self._line(raw)
                    if line is not None:
                        read_any = True
                        yield [line]
                error = await process.stderr.read()  # before waiting: it could fill its pipe
                code = await process.wait()
            finally:
                if process.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
                    await process.wait()
            failures = 0 if read_any else failures + 1
            wait = RESTART_SECONDS[min(failures, len(RESTART_SECONDS) - 1)]
            log.error("jail %s: journalctl ended (exit %s%s); starting it again in %.0f s",
                      self.jail, code,
                      f": {error.decode('utf-8', 'replace').strip()[-300:]}" if error else "",
                      wait)
            await asyncio.sleep(wait)

    def _line(self, raw: bytes) -> SourceLine | None:
        try:
            entry = json.loads(raw)
        except ValueError:
            entry = None
        if not isinstance(entry, dict):
            self.bad_entries += 1
            if self.bad_entries <= 3:
                log.warning("jail %s: journalctl wrote something that is not an entry: %r",
                            self.jail, raw[:200])
            return None
        self.entries += 1
        self._lineno += 1
        cursor = entry.get("__CURSOR")
        if isinstance(cursor, str):
            self.cursor = cursor
        return SourceLine(self.path, self._lineno, format_entry(entry), entry_time(entry))
