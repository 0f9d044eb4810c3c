"""The addons a configuration asks for, in the order they must start."""

from __future__ import annotations

from typing import Any

from floodwall.server.addons import Addon
from floodwall.server.logs import BanLog
from floodwall.settings.values import Config


def standard_addons(config: Config) -> list[Addon]:
    """Recon (before the others use its enricher), the fleet, the JSON ban log, the HTTP
    server."""
    addons: list[Any] = []  # plain classes; Addon is only a marker protocol
    # Each addon's module (and its libraries: aiohttp, httpx, redis) is imported only when
    # the configuration asks for it, so a daemon without them starts faster.
    recon = None
    if config.recon.enabled:
        from floodwall.recon.addon import ReconAddon
        recon = ReconAddon(config.recon)
        addons.append(recon)
    if config.cluster is not None:  # imports redis only for nodes of a fleet
        from floodwall.cluster.node import ClusterNode
        addons.append(ClusterNode(config.cluster, config.path))
    if config.logging.json:
        addons.append(BanLog(recon))
    if config.http.enabled:
        from floodwall.server.http import HttpServer
        addons.append(HttpServer(config.http, recon))
    return addons
