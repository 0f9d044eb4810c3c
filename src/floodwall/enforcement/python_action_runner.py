"""Runs one fail2ban Python action (action.d/*.py) for floodwall, in its own process.

Started by floodwall with the Python that has fail2ban's package (Debian's `fail2ban`), as
`python3 python_action_runner.py`; this file uses only the standard library and that
package. It reads one JSON request a line on stdin and answers one JSON line on stdout:

    {"op": "load", "path": FILE, "jail": NAME, "name": ACTNAME, "bantime": S, "options": {…}}
    {"op": "start" | "stop" | "flush" | "reload"}
    {"op": "ban" | "unban", "info": {"ip": …, "failures": …, …}}

answered {"ok": true, …} or {"ok": false, "error": TEXT}. A crash or a hang of the action
stays in this process: floodwall times requests out and starts it again.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
import traceback
from typing import Any


class _Actions:
    """What an action may ask of its jail's actions (fail2ban's Actions)."""

    def __init__(self, bantime: float) -> None:
        self._bantime = bantime

    def getBanTime(self) -> float:  # fail2ban's name for it
        """The jail's ban time in seconds."""
        return self._bantime


class _Jail:
    """The part of fail2ban's Jail an action sees: its name and its actions."""

    def __init__(self, name: str, bantime: float) -> None:
        self.name = name
        self.actions = _Actions(bantime)

    def __getattr__(self, attribute: str) -> Any:
        raise AttributeError(f"floodwall runs fail2ban Python actions without fail2ban's "
                             f"jail: jail.{attribute} is not available")


def _load(request: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    spec = importlib.util.spec_from_file_location("fail2ban_action", request["path"])
    if spec is None or spec.loader is None:
        raise ImportError(f"{request['path']} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    factory = getattr(module, "Action", None)
    if factory is None:
        raise ImportError(f"{request['path']} defines no Action class")
    action = factory(_Jail(request["jail"], float(request["bantime"])), request["name"],
                     **request["options"])
    return action, {"norestored": bool(getattr(action, "norestored", False)),
                    "flush": callable(getattr(action, "flush", None)),
                    "reload": callable(getattr(action, "reload", None))}


def _serve() -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format="%(name)s: %(message)s")
    action: Any = None
    for text in sys.stdin:
        answer: dict[str, Any] = {"ok": True}
        try:
            request = json.loads(text)
            op = request["op"]
            if op == "load":
                action, found = _load(request)
                answer.update(found)
            elif action is None:
                raise RuntimeError("no action loaded")
            elif op in ("ban", "unban"):
                getattr(action, op)(request["info"])
            else:
                getattr(action, op)()
        except Exception as problem:  # noqa: BLE001 - the action's own errors, reported back
            answer = {"ok": False, "error": f"{type(problem).__name__}: {problem}",
                      "trace": traceback.format_exc(limit=3)}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    _serve()
