"""The daemon under a sustained flood: does `floodwall run` keep up, and how fast are bans in?

    python -m bench.daemon [--rate 20000] [--seconds 20] [--vhosts 300] [--attackers 20]
                           [--preload N] [--profile FILE]

In a network namespace of its own, `floodwall run` follows `--vhosts` access logs with the
nftables backend and one jail that bans at 5 failing GETs within a minute, counted across
every vhost. A writer appends `--rate` lines/s in total to those logs for `--seconds`
seconds: legitimate 200s, and `--attackers` new attackers a second (each a unique address of
198.18.0.0/15) whose five 404s, spread over vhosts 20 ms apart, cross the threshold at a
known moment. It measures:

- lag: lines written minus the daemon's `lines_read` (control socket `status`), sampled
  twice a second, in lines and in seconds of traffic, and whether it grows over the run;
- latency: from the write of each threshold-crossing line to the daemon's ban record
  (logged after `nft` has put the address in the set), p50/p99/max; every attacker must
  be in the nftables set at the end, and no legitimate address.

`--preload N` imports N active bans (10.0.0.0/8 addresses, same jail) before the flood, to
see whether a full set slows the ban path. `--profile FILE` runs the daemon under cProfile
and writes its statistics to FILE.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from floodwall.errors import ControlError
from floodwall.server.control import request
from tests.support.netns import Namespace, network, skip_reason, wait_until

THRESHOLD = 5
"""Failures within FINDTIME that ban (the jail's maxretry)."""
FAILURE_GAP = 0.02
"""Seconds between an attacker's failures."""
TICK = 0.005
"""Seconds between two writes of the writer."""
STATUS_EVERY = 0.5
"""Seconds between two lag samples."""
TABLE = "fwbench"
PRELOAD_CHUNK = 500
"""Bans per import request (a request is one line of at most 64 KiB)."""
LAG_TARGET_SECONDS = 1.0
"""Most lag, in seconds of traffic, that still counts as keeping up."""
CONFIG = """
[floodwall]
state_dir = "{root}/state"
socket = "{root}/control.sock"
backend = "nftables"
table = "{table}"
new_files_from = "start"

[logging]
json = true

[jails.flood]
logpath = ["{root}/www/*/logs/access.log"]
filter = "access"
format = "auto"
methods = ["GET"]
status = [404]
maxretry = {threshold}
findtime = "1m"
bantime = "1h"
ports = ["http", "https"]
"""
PATHS = ("/", "/index.html", "/shop/cart", "/static/app.js", "/static/site.css",
         "/blog/2026/03/post", "/api/v1/items?page=2", "/favicon.ico")
AGENTS = ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36")


@dataclass(frozen=True, slots=True)
class Flood:
    """What one run measured."""

    rate: int
    """Lines per second the writer aimed at."""
    seconds: float
    """How long the writer wrote."""
    vhosts: int
    """Access logs followed."""
    preloaded: int
    """Active bans already in the set when the flood began."""
    lines_written: int
    """Lines the writer appended."""
    achieved_rate: float
    """Lines per second the writer really appended."""
    lag_max_seconds: float
    """Largest (written - read) seen, in seconds of traffic."""
    lag_first_half_seconds: float
    """Mean lag over the first half of the run."""
    lag_second_half_seconds: float
    """Mean lag over the second half (growing lag: larger than the first half)."""
    drained_seconds: float
    """Seconds after the last write until the daemon had read every line."""
    keeps_up: bool
    """Lag stayed under LAG_TARGET_SECONDS and every line was read within a second."""
    attackers: int
    """Addresses that crossed the threshold."""
    banned: int
    """Of them, how many the daemon banned (and are in the nftables set)."""
    false_bans: int
    """Addresses in the set that are not attackers."""
    latency_p50_ms: float
    """Median time from writing the crossing line to the ban."""
    latency_p99_ms: float
    """99th percentile of the same."""
    latency_max_ms: float
    """Largest."""
    latency_first_half_p50_ms: float
    """Median for the attackers of the first half of the run."""
    latency_second_half_p50_ms: float
    """Median for the second half (flat, not growing, when the daemon keeps up)."""
    daemon_cpu_seconds: float
    """User + system CPU time the daemon used during the run (nft processes included)."""


def _address(n: int) -> str:
    """The n-th attacker: a unique address of the benchmarking range 198.18.0.0/15."""
    return f"198.{18 + n // 65024}.{n // 254 % 256}.{n % 254 + 1}"


class Writer:
    """Appends the traffic to the vhost logs, remembering when each crossing line was written."""

    def __init__(self, logs: Sequence[Path], rate: int, attackers_per_second: int,
                 seed: int = 20261122) -> None:
        self._files = [os.open(log, os.O_WRONLY | os.O_APPEND) for log in logs]
        self._names = [log.parent.parent.name for log in logs]
        self._rate = rate
        self._attack_rate = attackers_per_second
        self._random = random.Random(seed)
        self.written = 0
        """Lines appended so far."""
        self.crossed: dict[str, float] = {}
        """Attacker address -> time.time() just after its crossing line was written."""
        self._stamp = (0, "")

    def close(self) -> None:
        """Close the logs."""
        for fd in self._files:
            os.close(fd)

    def run(self, seconds: float) -> float:
        """Write for `seconds`; returns the seconds it really took."""
        began = time.monotonic()
        next_attacker = 0
        pending: list[tuple[float, int, int]] = []  # (due, attacker, failure number)
        while (elapsed := time.monotonic() - began) < seconds:
            # Attackers start while there is time left for all their failures.
            while (next_attacker / self._attack_rate < elapsed
                   and next_attacker / self._attack_rate < seconds - THRESHOLD * FAILURE_GAP):
                start = next_attacker / self._attack_rate
                pending += [(start + k * FAILURE_GAP, next_attacker, k) for k in range(THRESHOLD)]
                next_attacker += 1
            due = [item for item in pending if item[0] <= elapsed]
            pending = [item for item in pending if item[0] > elapsed]
            legit = int(elapsed * self._rate) - self.written - len(due)
            self._write_tick(max(legit, 0), due)
            time.sleep(max(0.0, TICK - (time.monotonic() - began - elapsed)))
        return time.monotonic() - began

    def _write_tick(self, legit: int, failures: Sequence[tuple[float, int, int]]) -> None:
        chunks: dict[int, list[str]] = {}
        crossing: dict[int, list[str]] = {}
        stamp = self._time_field()
        pick = self._random.randrange
        for _ in range(legit):
            vhost = pick(len(self._files))
            client = f"192.0.2.{pick(1, 255)}" if pick(2) else f"198.51.100.{pick(1, 255)}"
            chunks.setdefault(vhost, []).append(self._line(
                vhost, client, stamp, PATHS[pick(len(PATHS))], 200))
        for _, attacker, number in failures:
            vhost = pick(len(self._files))
            address = _address(attacker)
            chunks.setdefault(vhost, []).append(self._line(
                vhost, address, stamp, f"/wp-login.php.bak{number}", 404))
            if number == THRESHOLD - 1:
                crossing.setdefault(vhost, []).append(address)
        for vhost, lines in chunks.items():
            os.write(self._files[vhost], "".join(lines).encode())
            self.written += len(lines)
            if vhost in crossing:
                now = time.time()
                for address in crossing[vhost]:
                    self.crossed[address] = now

    def _time_field(self) -> str:
        second = int(time.time())
        if self._stamp[0] != second:
            self._stamp = (second, time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(second)))
        return self._stamp[1]

    def _line(self, vhost: int, client: str, stamp: str, path: str, status: int) -> str:
        """One line in the hoster format (%h %l %u %t %I %O "%r" %>s %b referer agent %V %p)."""
        agent = AGENTS[vhost % len(AGENTS)]
        return (f'{client} - - [{stamp}] 412 5120 "GET {path} HTTP/1.1" {status} 4823 "-" '
                f'"{agent}" {self._names[vhost]} 443\n')


class LagSampler(threading.Thread):
    """Samples (seconds since start, lines written, daemon's lines_read) until stopped."""

    def __init__(self, socket_path: str, writer: Writer) -> None:
        super().__init__(name="lag-sampler", daemon=True)
        self._socket = socket_path
        self._writer = writer
        self._stop_event = threading.Event()
        self.samples: list[tuple[float, int, int]] = []
        """(seconds since start, written, read)."""

    def run(self) -> None:
        """Sample every STATUS_EVERY seconds."""
        began = time.monotonic()
        while not self._stop_event.wait(STATUS_EVERY):
            try:
                read = int(request(self._socket, "status")["lines_read"])
            except ControlError:
                continue  # a busy daemon answers the next sample
            written = self._writer.written  # after the answer: the lag is never understated
            self.samples.append((time.monotonic() - began, written, read))

    def stop(self) -> None:
        """Stop sampling."""
        self._stop_event.set()
        self.join(timeout=10)


def _lines_read(socket_path: str) -> int:
    return int(request(socket_path, "status")["lines_read"])


def _ban_times(daemon_log: Path) -> dict[str, float]:
    """Address -> time of the daemon's ban record (made after the set was updated)."""
    found: dict[str, float] = {}
    with daemon_log.open(encoding="utf-8", errors="replace") as handle:
        for raw in handle:
            if not raw.startswith("{"):
                continue
            record = json.loads(raw)
            if record.get("logger") == "floodwall" and record["message"].startswith("ban "):
                address = record["message"].split()[1]
                found.setdefault(address, datetime.fromisoformat(record["time"]).timestamp())
    return found


def _set_members(namespace: Namespace) -> set[str]:
    listing = json.loads(namespace.run(["nft", "-j", "list", "table", "inet", TABLE]).stdout)
    members: set[str] = set()
    for item in listing["nftables"]:
        for element in item.get("set", {}).get("elem", []):
            value = element["elem"]["val"] if isinstance(element, dict) else element
            members.add(str(value))
    return members


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its waited-for children (nft) so far."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def start_daemon(namespace: Namespace, config: Path, log: Path, *, timeout: float = 60.0,
                 interval: float = 0.1, runner: Sequence[str] = (sys.executable,)
                 ) -> subprocess.Popen[str]:
    """`floodwall run --config CONFIG` in the namespace, its output in `log`, once it says it
    runs (RuntimeError from wait_until if it does not within `timeout`)."""
    with log.open("w") as output:
        process = namespace.popen([*runner, "-m", "floodwall", "run", "--config", str(config)],
                                  stdout=output, stderr=output)
    wait_until(lambda: "floodwall running" in log.read_text(), timeout,
               f"the daemon to start (its output: {log.name})", interval=interval)
    return process


def stop_daemon(process: subprocess.Popen[str]) -> None:
    """SIGTERM, and wait for the daemon to finish."""
    process.terminate()
    process.wait(timeout=60)


def _percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def _preload(socket_path: str, count: int) -> set[str]:
    """Import `count` active bans of the flood jail through the control socket; their keys."""
    now = time.time()
    keys = {f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}" for n in range(1, count + 1)}
    bans = [{"address": key, "jail": "flood", "start": now, "until": now + 3600}
            for key in keys]
    enforced = 0
    for first in range(0, count, PRELOAD_CHUNK):
        chunk = bans[first:first + PRELOAD_CHUNK]
        enforced += request(socket_path, "import", bans=chunk)["enforced"]
    if enforced != count:
        raise RuntimeError(f"preloading {count} bans enforced only {enforced}")
    return keys


def run(rate: int = 20_000, seconds: float = 20.0, vhosts: int = 300,
        attackers_per_second: int = 20, preload: int = 0, profile: Path | None = None) -> Flood:
    """Run the flood once and measure it; RuntimeError if namespaces cannot be made here."""
    reason = skip_reason(("ip", "nft"))
    if reason is not None:
        raise RuntimeError(reason)
    root = Path(tempfile.mkdtemp(prefix="floodwall-flood-"))
    try:
        logs = []
        for index in range(1, vhosts + 1):
            folder = root / "www" / f"site{index:03d}.example" / "logs"
            folder.mkdir(parents=True)
            (folder / "access.log").touch()
            logs.append(folder / "access.log")
        config = root / "floodwall.toml"
        config.write_text(CONFIG.format(root=root, table=TABLE, threshold=THRESHOLD))
        daemon_log = root / "daemon.log"
        socket_path = str(root / "control.sock")
        with network(1) as (namespace,):
            runner = ([sys.executable, "-m", "cProfile", "-o", str(profile)] if profile
                      else [sys.executable])
            process = start_daemon(namespace, config, daemon_log, runner=runner)
            preloaded = _preload(socket_path, preload) if preload else set()
            writer = Writer(logs, rate, attackers_per_second)
            sampler = LagSampler(socket_path, writer)
            cpu_before = _cpu_seconds(process.pid)
            sampler.start()
            try:
                took = writer.run(seconds)
                stopped = time.monotonic()
                wait_until(lambda: _lines_read(socket_path) >= writer.written, 60,
                           "the daemon to read every line written")
                drained = time.monotonic() - stopped
            finally:
                sampler.stop()
                writer.close()
            expected = set(writer.crossed)
            wait_until(lambda: expected <= set(_ban_times(daemon_log)), 30,
                       "a ban record for every attacker")
            cpu = _cpu_seconds(process.pid) - cpu_before
            members = _set_members(namespace) - preloaded
            stop_daemon(process)
        bans = _ban_times(daemon_log)
        return _summary(rate, took, vhosts, preload, writer, sampler.samples, drained, bans,
                        members, cpu)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _summary(rate: int, took: float, vhosts: int, preload: int, writer: Writer,
             samples: Sequence[tuple[float, int, int]], drained: float,
             bans: dict[str, float], members: set[str], cpu: float) -> Flood:
    achieved = writer.written / took
    lags = [(at, (written - read) / achieved) for at, written, read in samples]
    middle = took / 2
    ordered = sorted(writer.crossed.items(), key=lambda item: item[1])
    banned = [address for address, _ in ordered if address in bans and address in members]
    latencies = [(bans[address] - writer.crossed[address]) * 1000 for address in banned]
    half = len(latencies) // 2
    lag_max = max((lag for _, lag in lags), default=0.0)
    return Flood(
        rate=rate, seconds=round(took, 2), vhosts=vhosts, preloaded=preload,
        lines_written=writer.written,
        achieved_rate=round(achieved), lag_max_seconds=round(lag_max, 3),
        lag_first_half_seconds=round(_mean([lag for at, lag in lags if at < middle]), 3),
        lag_second_half_seconds=round(_mean([lag for at, lag in lags if at >= middle]), 3),
        drained_seconds=round(drained, 3),
        keeps_up=lag_max < LAG_TARGET_SECONDS and drained < 1.0,
        attackers=len(writer.crossed), banned=len(banned),
        false_bans=len(members - set(writer.crossed)),
        latency_p50_ms=round(_percentile(latencies, 0.5), 1),
        latency_p99_ms=round(_percentile(latencies, 0.99), 1),
        latency_max_ms=round(max(latencies, default=0.0), 1),
        latency_first_half_p50_ms=round(_percentile(latencies[:half], 0.5), 1),
        latency_second_half_p50_ms=round(_percentile(latencies[half:], 0.5), 1),
        daemon_cpu_seconds=round(cpu, 2))


def describe(flood: Flood) -> str:
    """The human summary of one run."""
    return "\n".join([
        (f"daemon flood: {flood.vhosts} vhost logs, {flood.lines_written:,} lines in "
        f"{flood.seconds} s ({flood.achieved_rate:,.0f}/s, aimed at {flood.rate:,}/s); "
        f"{flood.preloaded} bans preloaded; daemon CPU {flood.daemon_cpu_seconds} s"),
        (f"  lag: max {flood.lag_max_seconds * 1000:.0f} ms of traffic, mean "
        f"{flood.lag_first_half_seconds * 1000:.0f} ms (first half) / "
        f"{flood.lag_second_half_seconds * 1000:.0f} ms (second half); all read "
        f"{flood.drained_seconds * 1000:.0f} ms after the last write; keeps up: "
        f"{'yes' if flood.keeps_up else 'NO'}"),
        (f"  bans: {flood.banned}/{flood.attackers} attackers in the nftables set, "
        f"{flood.false_bans} other address(es)"),
        (f"  write -> in the set: p50 {flood.latency_p50_ms} ms, p99 {flood.latency_p99_ms} ms, "
        f"max {flood.latency_max_ms} ms (p50 first half {flood.latency_first_half_p50_ms} ms, "
        f"second half {flood.latency_second_half_p50_ms} ms); target p99 < 100 ms")])


def main(argv: Sequence[str] | None = None) -> int:
    """Command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.daemon", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=20_000, help="lines/s written in total")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to write")
    parser.add_argument("--vhosts", type=int, default=300, help="access logs followed")
    parser.add_argument("--attackers", type=int, default=20, help="new attackers a second")
    parser.add_argument("--preload", type=int, default=0, help="active bans before the flood")
    parser.add_argument("--profile", type=Path, help="cProfile the daemon into this file")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    flood = run(args.rate, args.seconds, args.vhosts, args.attackers, args.preload, args.profile)
    print(json.dumps(asdict(flood), indent=1) if args.json else describe(flood))
    return 0 if flood.keeps_up and flood.banned == flood.attackers else 1


if __name__ == "__main__":
    sys.exit(main())
