"""The daemon's log: plain text, or one JSON object a line ([logging] json = true), and an
addon that logs every ban and unban with the enrichment known so far."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from floodwall.bans.addons import Addon
from floodwall.model import Ban

if TYPE_CHECKING:
    from floodwall.recon.addon import ReconAddon

log = logging.getLogger("floodwall.bans")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, and the record's `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname.lower(), "logger": record.name,
            "message": record.getMessage()}
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, sort_keys=True, default=str)


def configure_logging(json_lines: bool, verbose: bool = False) -> None:
    """Send the log to stderr as text or JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


class BanLog(Addon):
    """Addon: a structured record of every ban and unban, with what recon knows by then."""

    def __init__(self, recon: ReconAddon | None = None) -> None:
        self.recon = recon

    def on_ban(self, bans: Sequence[Ban]) -> None:
        """Log the bans."""
        for ban in bans:
            self._log("ban", ban)

    def on_unban(self, bans: Sequence[Ban]) -> None:
        """Log the lifted bans."""
        for ban in bans:
            self._log("unban", ban)

    def _log(self, event: str, ban: Ban) -> None:
        enricher = self.recon.enricher if self.recon is not None else None
        fields: dict[str, Any] = {
            "event": event, "address": ban.key, "jail": ban.jail, "start": ban.start,
            "until": ban.until, "failures": ban.count, "origin": ban.origin,
            "reason": ban.reason,
            "recon": enricher.known(ban.key).to_json() if enricher is not None else None}
        log.info("%s %s jail=%s", event, ban.key, ban.jail, extra={"fields": fields})
