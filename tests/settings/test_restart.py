"""Which changed settings a reload leaves for the next restart."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from floodwall.settings.restart import settings_needing_restart
from tests.support.configs import load, scanner_jail


def test_only_the_settings_a_restart_takes_are_named(tmp_path: Path) -> None:
    running = load(tmp_path, {"web": scanner_jail(tmp_path / "a.log")})
    assert settings_needing_restart(running, running) == []
    assert settings_needing_restart(running, replace(running, max_keys=5)) == []
    loaded = replace(running, socket="/elsewhere.sock", table="other")
    assert settings_needing_restart(running, loaded) == ["[floodwall] socket", "[floodwall] table"]
