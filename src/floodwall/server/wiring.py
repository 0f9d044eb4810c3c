"""The addons a configuration asks for, in the order they must start."""

from __future__ import annotations

from typing import Any

from floodwall.config.model import Config
from floodwall.recon.addon import ReconAddon
from floodwall.server.addons import Addon
from floodwall.server.http import HttpServer
from floodwall.server.logs import BanLog


def standard_addons(config: Config) -> list[Addon]:
    """Recon (before the others use its enricher), the fleet, the JSON ban log, the HTTP
    server."""
    addons: list[Any] = []  # plain classes; Addon is only a marker protocol
    recon = ReconAddon(config.recon) if config.recon.enabled else None
    if recon is not None:
        addons.append(recon)
    if config.cluster is not None:  # imports redis only for nodes of a fleet
        from floodwall.cluster.node import ClusterNode
        addons.append(ClusterNode(config.cluster, config.path))
    if config.logging.json:
        addons.append(BanLog(recon))
    if config.http.enabled:
        addons.append(HttpServer(config.http, recon))
    return addons
