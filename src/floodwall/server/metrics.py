"""Prometheus metrics of a running daemon, read from its counters at scrape time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from floodwall.bans.addons import AddonHost

if TYPE_CHECKING:
    from floodwall.recon.addon import ReconAddon

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class DaemonCollector(Collector):
    """Lines read; per jail failures, timed-out lines, pending action calls, bans and active
    bans; ban latency; recon backlog."""

    def __init__(self, daemon: AddonHost, recon: ReconAddon | None = None) -> None:
        self.daemon = daemon
        self.recon = recon

    def collect(self) -> Iterator[Metric]:
        """The metric families, as they stand now."""
        daemon = self.daemon
        yield CounterMetricFamily("floodwall_lines_read", "Log lines read since start.",
                                  value=daemon.lines_read)
        jails = list(daemon.jails)
        failures = CounterMetricFamily("floodwall_failures", "Failures counted since start.",
                                       labels=["jail"])
        for name, jail in daemon.jails.items():
            failures.add_metric([name], jail.failures_seen)
        yield failures
        timeouts = CounterMetricFamily(
            "floodwall_lines_timed_out", "Lines skipped for taking longer than line_timeout "
            "in a jail's filter.", labels=["jail"])
        for name, jail in daemon.jails.items():
            timeouts.add_metric([name], jail.filter.timeouts)
        yield timeouts
        waiting = GaugeMetricFamily(
            "floodwall_actions_pending", "Action calls (fail2ban command or Python actions) "
            "queued for the shared action threads and not yet finished.", labels=["jail"])
        for name, count in sorted(daemon.actions_pending().items()):
            waiting.add_metric([name], count)
        yield waiting
        failed = CounterMetricFamily(
            "floodwall_action_failures", "Ban-time action calls (ban, prolong, unban) that "
            "failed since start: bans those actions do not enforce.", labels=["jail"])
        for name, count in sorted(daemon.actions_failed().items()):
            failed.add_metric([name], count)
        yield failed
        bans = CounterMetricFamily("floodwall_bans", "Bans added or extended since start.",
                                   labels=["jail"])
        active = GaugeMetricFamily("floodwall_active_bans", "Bans in force.", labels=["jail"])
        made = daemon.bans.made
        active_by_jail = Counter(ban.jail for ban in daemon.bans.ledger.active())
        for name in sorted({*jails, *made, *active_by_jail}):
            bans.add_metric([name], made.get(name, 0))
            active.add_metric([name], active_by_jail[name])
        yield bans
        yield active
        yield from daemon.ban_latency.collect()
        if self.recon is not None:
            yield GaugeMetricFamily("floodwall_recon_pending",
                                    "Banned addresses waiting for enrichment.",
                                    value=self.recon.pending())


def render_metrics(daemon: AddonHost, recon: ReconAddon | None = None) -> bytes:
    """The Prometheus text exposition of a daemon's metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DaemonCollector(daemon, recon))
    return generate_latest(registry)
