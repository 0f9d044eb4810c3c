"""What a reload of the configuration cannot apply: the settings only a restart takes."""

from __future__ import annotations

from floodwall.settings.values import Config

RESTART_SETTINGS = (("state_dir", "[floodwall] state_dir"), ("socket", "[floodwall] socket"),
                    ("backend", "[floodwall] backend"), ("table", "[floodwall] table"),
                    ("recon", "[recon]"), ("cluster", "[cluster]"), ("logging", "[logging]"),
                    ("http", "[http]"))
"""(Config field, how the operator names it) of what a reload does not apply."""


def settings_needing_restart(running: Config, loaded: Config) -> list[str]:
    """What differs between the running and a reloaded configuration that only a restart
    applies (the database, the control socket, the firewall backend, the add-ons)."""
    return [name for field_name, name in RESTART_SETTINGS
            if getattr(running, field_name) != getattr(loaded, field_name)]
