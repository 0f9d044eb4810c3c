"""floodwall.toml files for tests, written from a few parameters instead of a template per
test file:

    path = floodwall_toml(tmp_path, {"web": scanner_jail(tmp_path / "access.log")},
                          defaults={"ignoreip": ["192.0.2.250"]})

Every file gets a [floodwall] table keeping its state, socket and firewall under the test's
own directory: state in `root`/state, the control socket `root`/control.sock, the dry-run
backend and new files read from their start; `floodwall={...}` changes or (with None)
removes any of those settings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from floodwall.config.loader import load_config
from floodwall.settings.values import Config

Table = Mapping[str, Any]
"""One TOML table: key -> a str, Path, bool, int, float, list of those, or an inline table."""


def floodwall_toml(root: Path, jails: Mapping[str, Table] | None = None, *,
                   floodwall: Table | None = None, **sections: Table) -> Path:
    """Write `root`/floodwall.toml: [floodwall] (the test defaults updated by `floodwall`),
    then each of `sections` ([defaults], [http], [recon], [cluster], [fail2ban]...) and one
    [jails.<name>] table per entry of `jails`; returns its path."""
    settings: dict[str, Any] = {"state_dir": root / "state", "socket": root / "control.sock",
                                "backend": "dry-run", "new_files_from": "start"}
    settings.update(floodwall or {})
    tables = [("floodwall", {k: v for k, v in settings.items() if v is not None}),
              *sections.items(), *((f"jails.{jail}", table) for jail, table in
                                   (jails or {}).items())]
    root.mkdir(parents=True, exist_ok=True)
    path = root / "floodwall.toml"
    path.write_text("\n".join(_table(header, table) for header, table in tables))
    return path


def load(root: Path, jails: Mapping[str, Table] | None = None, *, floodwall: Table | None = None,
         **sections: Table) -> Config:
    """The configuration floodwall_toml() writes with these arguments, loaded."""
    return load_config(floodwall_toml(root, jails, floodwall=floodwall, **sections))


def scanner_jail(logpath: Path | str | Sequence[Path | str], *, maxretry: int = 4,
                 **options: Any) -> dict[str, Any]:
    """An access-log jail counting failing GETs (404) by client: maxretry of them within 5
    minutes ban for an hour; `options` add or change settings (None removes one)."""
    paths = [logpath] if isinstance(logpath, str | Path) else list(logpath)
    jail: dict[str, Any] = {"logpath": paths, "methods": ["GET"], "status": [404],
                            "maxretry": maxretry, "findtime": "5m", "bantime": "1h"}
    jail.update(options)
    return {key: value for key, value in jail.items() if value is not None}


def _table(header: str, table: Table) -> str:
    return f"[{header}]\n" + "".join(f"{key} = {_value(value)}\n" for key, value in table.items())


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, str):
        # Literal strings keep regexes readable; JSON's escapes are TOML's for the rest.
        return f"'{value}'" if "'" not in value and "\n" not in value else json.dumps(value)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, Sequence):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")
