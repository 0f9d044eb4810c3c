"""The control socket: one JSON request per line, one JSON answer per line, root only."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from floodwall.addresses import ban_key
from floodwall.errors import ControlError, FloodwallError
from floodwall.model import Ban

log = logging.getLogger("floodwall.control")
Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
MAX_REQUEST_BYTES = 65536


def _peer_uid(writer: asyncio.StreamWriter) -> int | None:
    sock = writer.get_extra_info("socket")
    if sock is None:
        return None
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


class ControlServer:
    """Serves requests on a unix socket that only root (or the daemon's own user) may use."""

    def __init__(self, path: str, handler: Handler) -> None:
        self.path = path
        self.handler = handler
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        """Create the socket (directory 0700, socket 0600) and start serving."""
        directory = Path(self.path).parent
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(directory, 0o700)
        if os.path.exists(self.path):
            os.unlink(self.path)
        old_mask = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(
                self._serve, path=self.path, limit=MAX_REQUEST_BYTES)
        finally:
            os.umask(old_mask)
        os.chmod(self.path, 0o600)

    async def close(self) -> None:
        """Stop serving and remove the socket."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            uid = _peer_uid(writer)
            if uid not in (0, os.getuid()):
                await self._answer(writer, {"ok": False, "error": "permission denied: root only"})
                return
            raw = await asyncio.wait_for(reader.readline(), timeout=10)
            try:
                request = json.loads(raw)
                if not isinstance(request, dict) or not isinstance(request.get("command"), str):
                    raise ValueError("expected a JSON object with a 'command'")
            except ValueError as problem:
                await self._answer(writer, {"ok": False, "error": f"bad request: {problem}"})
                return
            try:
                answer = await self.handler(request)
            except FloodwallError as problem:
                answer = {"ok": False, "error": str(problem)}
            except Exception:  # a bug must not take the daemon down with it
                log.exception("control request %r failed", request.get("command"))
                answer = {"ok": False, "error": "internal error, see the daemon's log"}
            await self._answer(writer, answer)
        except (TimeoutError, asyncio.LimitOverrunError, ValueError, OSError):
            pass
        finally:
            writer.close()

    @staticmethod
    async def _answer(writer: asyncio.StreamWriter, answer: dict[str, Any]) -> None:
        writer.write(json.dumps(answer).encode() + b"\n")
        await writer.drain()


def request(path: str, command: str, **arguments: Any) -> dict[str, Any]:
    """Send one request to the daemon and return its answer; ControlError if it fails."""
    payload = json.dumps({"command": command, **arguments}).encode() + b"\n"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(30)
            sock.connect(path)
            sock.sendall(payload)
            chunks = []
            while True:
                chunk = sock.recv(1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
    except FileNotFoundError:
        raise ControlError(f"{path}: no control socket; is `floodwall run` running "
                           "(and is this its config)?") from None
    except PermissionError:
        raise ControlError(f"{path}: permission denied; the control socket is for root only") \
            from None
    except OSError as problem:
        raise ControlError(f"{path}: cannot reach the daemon: {problem}") from None
    try:
        answer = json.loads(b"".join(chunks))
    except ValueError:
        raise ControlError(f"{path}: the daemon sent no valid answer") from None
    if not answer.get("ok"):
        raise ControlError(answer.get("error", "request refused"))
    return dict(answer)


def request_key(request: dict[str, Any]) -> str:
    """The address or prefix a request names; ControlError if it names neither."""
    try:
        return ban_key(str(request.get("address") or ""))
    except ValueError as problem:
        raise ControlError(str(problem)) from None


def ban_json(ban: Ban, now: float) -> dict[str, Any]:
    """A ban as an answer shows it."""
    return {"address": ban.key, "jail": ban.jail, "start": ban.start, "until": ban.until,
            "remaining": ban.remaining(now), "failures": ban.count, "origin": ban.origin,
            "reason": ban.reason}
