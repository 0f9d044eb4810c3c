"""`make bench`: floodwall against fail2ban-regex, CrowdSec and a bare Python loop, same files.

    python -m bench.run [OUT_DIR] [--runs N] [--access-lines N] [--ssh-lines N]
                        [--flood-seconds S]

Generates the corpus (access logs over 300 vhosts in the hoster and combined formats, a
large auth.log), measures every case in this one run (medians of --runs runs: lines/s, CPU
seconds, peak RSS of the process), prints a table of ratios floodwall/peer taken pair by pair,
and writes OUT_DIR/results.json and OUT_DIR/chart.svg with the machine it ran on. Slow peers
run on a prefix of the same file and are compared by lines/s. Then the daemon case
(bench/daemon.py): `floodwall run` in a network namespace under 20,000 lines/s over 300 vhost
logs, its lag and the time from a line to its ban in the nftables set; and the memory case
(bench/memory.py): bytes per counted key against fail2ban's FailManager; and the restore case
(bench/restore.py): 100,000 active bans back in nftables after the table is deleted; and the
idle case (bench/idle.py): CPU of the daemon following 1,000 quiet files; and the corpus case
(bench/corpus.py): fail2ban's sample corpus through `floodwall regex` and `fail2ban-regex`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import corpus, daemon, idle, memory, restore, traffic

ROOT = Path(__file__).resolve().parent.parent
DOS_FILTER = ROOT / "bench" / "filters" / "http-get-dos.conf"
SSHD_FILTER = Path("/etc/fail2ban/filter.d/sshd.conf")
CONFIG = ROOT / "examples" / "floodwall.toml"
FAIL2BAN_PREFIX = {"dos": 200_000, "sshd": 100_000}
"""fail2ban-regex reads this many first lines of the same file (it is slow)."""
CROWDSEC_PREFIX = 5_000
TIME = "/usr/bin/time"
"""GNU time (Debian's `time`): peak RSS and CPU seconds of the measured process."""
CROWDSEC_TIMEOUT = 120.0
BARE_LOOP = ("import sys\n"
             "n = 0\n"
             "for path in sys.argv[1:]:\n"
             "    with open(path, 'rb') as f:\n"
             "        for raw in f:\n"
             "            n += len(raw.decode('utf-8', 'replace').split())\n")
"""The practical limit of a Python process: read, decode and split every line."""


@dataclass(frozen=True, slots=True)
class Measure:
    """Medians of several runs of one command."""

    tool: str
    """Who ran (floodwall, fail2ban-regex, crowdsec, bare-python)."""
    lines: int
    """Lines the command read per run."""
    seconds: float
    """Median wall time."""
    cpu_seconds: float
    """Median user + system CPU time of the process."""
    peak_rss_mb: float
    """Largest peak resident set over the runs."""
    runs: int
    """How many runs."""

    @property
    def lines_per_second(self) -> float:
        """Throughput."""
        return self.lines / self.seconds if self.seconds else 0.0


def _run_once(command: Sequence[str], timeout: float | None = None,
              env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS MB) of one run, taken by GNU time; raises on
    failure."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        began = time.perf_counter()
        done = subprocess.run([TIME, "-f", "%M %U %S", "-o", report.name, *command],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                              timeout=timeout, check=False)
        wall = time.perf_counter() - began
        fields = report.read().split()
    if done.returncode:
        error = done.stderr.decode("utf-8", "replace").strip()[-400:]
        raise RuntimeError(f"{' '.join(map(str, command))} failed ({done.returncode}): {error}")
    rss_kb, user, system = float(fields[-3]), float(fields[-2]), float(fields[-1])
    return wall, user + system, rss_kb / 1024


def measure(tool: str, command: Sequence[str], lines: int, runs: int, *,
            warmup: bool = False, timeout: float | None = None,
            env: dict[str, str] | None = None) -> Measure:
    """Run `command` `runs` times (after one unmeasured run when `warmup`)."""
    try:
        if warmup:
            _run_once(command, timeout, env)
        results = [_run_once(command, timeout, env) for _ in range(runs)]
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{command[0]} took more than {timeout:.0f} s") from None
    return Measure(tool, lines, statistics.median(r[0] for r in results),
                   statistics.median(r[1] for r in results), max(r[2] for r in results), runs)


def _prefix(source: Path, target: Path, lines: int) -> Path:
    with source.open("rb") as reader, target.open("wb") as writer:
        for index, raw in enumerate(reader):
            if index >= lines:
                break
            writer.write(raw)
    return target


def _count(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def generate(out: Path, access_lines: int, ssh_lines: int) -> dict[str, Path]:
    """The corpus in both formats, and each format's vhost logs joined into one file."""
    files: dict[str, Path] = {}
    for fmt in traffic.FORMATS:
        folder = out / fmt
        if folder.exists():
            shutil.rmtree(folder)
        traffic.generate(folder, lines=access_lines + ssh_lines, vhosts=300, fmt=fmt,
                         ssh_lines=ssh_lines)
        joined = folder / "access.log"
        with joined.open("wb") as writer:
            for log in sorted((folder / "www").glob("*/logs/access.log")):
                writer.write(log.read_bytes())
        files[fmt] = joined
    files["auth"] = out / "hoster" / "auth.log"
    return files


def _crowdsec(log: Path, work: Path, runs: int) -> Measure | str:
    """CrowdSec's replay (`-dsn file://`) with the web scenarios Debian enables, isolated in
    `work` (own data, database, API on a loopback port); a reason string if it cannot run."""
    binary, cscli = shutil.which("crowdsec"), shutil.which("cscli")
    if not binary or not cscli or not Path("/etc/crowdsec/config.yaml").exists():
        return "crowdsec is not installed (Debian package `crowdsec`)"
    import yaml  # type: ignore[import-untyped]

    config = yaml.safe_load(Path("/etc/crowdsec/config.yaml").read_text())
    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    for item in Path("/var/lib/crowdsec/data").glob("*"):
        if item.is_file() and item.suffix != ".db" and "crowdsec.db" not in item.name:
            shutil.copy(item, data / item.name)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config["common"].update(daemonize=False, log_media="file", log_dir=str(work),
                            log_level="error")
    config["config_paths"]["data_dir"] = str(data)
    config["db_config"]["db_path"] = str(data / "crowdsec.db")
    config["api"]["server"]["listen_uri"] = f"127.0.0.1:{port}"
    config["api"]["server"].pop("online_client", None)
    config["api"]["client"]["credentials_path"] = str(work / "local_api_credentials.yaml")
    config["prometheus"]["enabled"] = False
    config_file = work / "config.yaml"
    config_file.write_text(yaml.safe_dump(config))
    added = subprocess.run([cscli, "-c", str(config_file), "machines", "add", "bench", "--auto",
                            "-f", str(work / "local_api_credentials.yaml"), "--force"],
                           capture_output=True, text=True, timeout=120, check=False)
    if added.returncode:
        return f"cscli machines add failed: {added.stderr.strip()[-300:]}"
    # Time-machine mode (-dsn) with -no-api exits when the file is done; its alerts go to a
    # local API started alone (-no-cs) on the loopback port, stopped afterwards.
    api = subprocess.Popen([binary, "-c", str(config_file), "-no-cs"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not _listening(port):
            if api.poll() is not None or time.monotonic() > deadline:
                return f"crowdsec's local API did not start on 127.0.0.1:{port}"
            time.sleep(0.1)
        command = [binary, "-c", str(config_file), "-dsn", f"file://{log}", "-type", "apache2",
                   "-no-api"]
        return measure("crowdsec", command, _count(log), runs, timeout=CROWDSEC_TIMEOUT)
    except RuntimeError as error:
        return f"crowdsec replay failed: {error}"
    finally:
        api.terminate()
        api.wait(timeout=30)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _replay_config(out: Path, work: Path) -> Path:
    """examples/floodwall.toml with its log paths on the corpus and its state in `work`."""
    text = CONFIG.read_text(encoding="utf-8")
    text = text.replace("/var/www/*/logs/access.log", f"{out / 'hoster' / 'www'}/*/logs/access.log")
    text = text.replace("/var/log/auth.log", str(out / "hoster" / "auth.log"))
    text = text.replace('"/var/lib/floodwall"', f'"{work / "state"}"')
    config = work / "floodwall.toml"
    config.write_text(text, encoding="utf-8")
    return config


def _machine() -> dict[str, object]:
    model = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="utf-8") as meminfo:
        total_kb = int(meminfo.readline().split()[1])
    return {"cpu": model, "cores": os.cpu_count(), "memory_gb": round(total_kb / 1024**2, 1),
            "python": platform.python_version(), "system": platform.platform()}


def _pair(case: str, ours: Measure, peer: Measure | str, target: str) -> dict[str, object]:
    row: dict[str, object] = {"case": case, "target": target, "floodwall": asdict(ours)}
    row["floodwall"]["lines_per_second"] = ours.lines_per_second  # type: ignore[index]
    if isinstance(peer, str):
        row["peer"] = {"unavailable": peer}
        row["ratio"] = None
    else:
        row["peer"] = {**asdict(peer), "lines_per_second": peer.lines_per_second}
        row["ratio"] = ours.lines_per_second / peer.lines_per_second
    return row


def _flood(seconds: float) -> dict[str, object]:
    """The daemon case's figures, or why it could not run here."""
    print(f"daemon: {seconds:.0f} s of 20,000 lines/s over 300 vhost logs, nftables in a "
          "network namespace", flush=True)
    try:
        return asdict(daemon.run(seconds=seconds))
    except RuntimeError as problem:
        print(f"WARNING: daemon case unavailable: {problem}", file=sys.stderr, flush=True)
        return {"unavailable": str(problem)}


def _case(name: str, title: str, measure: Callable[[], object]) -> dict[str, object]:
    """One of the cases that report their own figures (a dataclass), or why it could not run
    here."""
    print(f"{name}: {title}", flush=True)
    try:
        return asdict(measure())  # type: ignore[call-overload]
    except RuntimeError as problem:
        print(f"WARNING: {name} case unavailable: {problem}", file=sys.stderr, flush=True)
        return {"unavailable": str(problem)}


def run(out: Path, runs: int, access_lines: int, ssh_lines: int,
        flood_seconds: float = 20.0) -> dict[str, object]:
    """Generate, measure every pair, write results.json and chart.svg; the results."""
    out.mkdir(parents=True, exist_ok=True)
    print(f"generating {access_lines} access lines x 2 formats and a {ssh_lines}-line auth.log "
          f"under {out}", flush=True)
    files = generate(out, access_lines, ssh_lines)
    # The kernel writes the new corpus (~600 MB) back to disk in the background; measured
    # during that, the first cases would share the machine with its flusher threads.
    os.sync()
    floodwall = [sys.executable, "-m", "floodwall"]
    access, auth = files["hoster"], files["auth"]
    rows = []
    work = Path(tempfile.mkdtemp(prefix="bench-", dir=out))
    try:
        for case, log, filt, target in (("dos", access, DOS_FILTER, ">= 20x"),
                                        ("sshd", auth, SSHD_FILTER, ">= 10x")):
            print(f"{case}: floodwall regex", flush=True)
            ours = measure("floodwall regex", [*floodwall, "regex", str(log), str(filt)],
                           _count(log), runs, warmup=True)
            prefix = _prefix(log, work / f"{case}-prefix.log", FAIL2BAN_PREFIX[case])
            print(f"{case}: fail2ban-regex on the first {FAIL2BAN_PREFIX[case]} lines", flush=True)
            peer: Measure | str
            if shutil.which("fail2ban-regex"):
                peer = measure("fail2ban-regex", ["fail2ban-regex", str(prefix), str(filt)],
                               _count(prefix), runs)
            else:
                peer = "fail2ban-regex is not installed (Debian package `fail2ban`)"
            rows.append(_pair(f"regex {case}", ours, peer, target))
        logs = sorted(str(p) for p in (out / "hoster" / "www").glob("*/logs/access.log"))
        logs.append(str(auth))
        replay_lines = sum(_count(Path(p)) for p in logs)
        print("replay: floodwall replay of the three reference jails", flush=True)
        replay = measure("floodwall replay", [*floodwall, "replay", "--config",
                                              str(_replay_config(out, work)), "--no-progress"],
                         replay_lines, runs, warmup=True)
        print("replay: bare Python loop (read, decode, split)", flush=True)
        bare = measure("bare-python", [sys.executable, "-c", BARE_LOOP, *logs], replay_lines,
                       runs)
        rows.append(_pair("replay vs bare loop", replay, bare, "ratio >= 0.33 (within 3x)"))
        print(f"replay: crowdsec on the first {CROWDSEC_PREFIX} combined lines", flush=True)
        crowd_log = _prefix(files["combined"], work / "crowdsec.log", CROWDSEC_PREFIX)
        crowd = _crowdsec(crowd_log, work / "crowdsec", max(1, min(runs, 2)))
        if isinstance(crowd, str):
            print(f"WARNING: CrowdSec unavailable: {crowd}", file=sys.stderr, flush=True)
        rows.append(_pair("replay vs crowdsec", replay, crowd, ">= 100x"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("memory: 1,000,000 counted keys, floodwall and fail2ban's FailManager", flush=True)
    results = {"machine": _machine(), "when": time.strftime("%Y-%m-%d %H:%M:%S %z"),
               "runs": runs, "cases": rows, "memory": memory.run(1_000_000, 100_000),
               "corpus": _case("corpus", "fail2ban's sample corpus, floodwall regex and "
                               "fail2ban-regex, one process per filter and option set",
                               lambda: corpus.run(runs)),
               "restore": _case("restore", "100,000 active bans after the nftables "
                                       "table is deleted", lambda: restore.run(100_000)),
               "idle": _case("idle", "1,000 followed files, no traffic, 20 s",
                                    lambda: idle.run(1_000, 20.0)),
               "daemon": _flood(flood_seconds)}
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    (out / "chart.svg").write_text(chart(rows), encoding="utf-8")
    print(table(results))
    return results


def table(results: dict[str, object]) -> str:
    """The human summary: machine, then one line per tool and the ratio per pair."""
    machine = results["machine"]
    assert isinstance(machine, dict)
    lines = [(f"machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gb']} GB, "
              f"Python {machine['python']}; medians of {results['runs']} runs"),
             (f"{'case':<22} {'tool':<18} {'lines':>9} {'lines/s':>11} {'cpu s':>7} "
              f"{'rss MB':>7} {'ratio':>8}  target")]
    cases = results["cases"]
    assert isinstance(cases, list)
    for row in cases:
        for side in ("floodwall", "peer"):
            value = row[side]
            if "unavailable" in value:
                lines.append(f"{row['case']:<22} {'(peer)':<18} "
                             f"unavailable: {value['unavailable']}")
                continue
            ratio = f"{row['ratio']:.1f}x" if side == "peer" and row["ratio"] else ""
            lines.append(f"{row['case']:<22} {value['tool']:<18} {value['lines']:>9} "
                         f"{value['lines_per_second']:>11,.0f} {value['cpu_seconds']:>7.2f} "
                         f"{value['peak_rss_mb']:>7.0f} {ratio:>8}  "
                         f"{row['target'] if side == 'peer' else ''}")
    if isinstance(results.get("memory"), dict):
        lines.append(memory.describe(results["memory"]))  # type: ignore[arg-type]
    for name, describe in (("corpus", lambda f: corpus.describe(corpus.CorpusRun(**f))),
                           ("restore", lambda f: restore.describe(restore.Restore(**f))),
                           ("idle", lambda f: idle.describe(idle.Idle(**f)))):
        figures = results.get(name)
        if isinstance(figures, dict):
            lines.append(f"{name}: unavailable: {figures['unavailable']}"
                         if "unavailable" in figures else describe(figures))
    flood = results.get("daemon")
    if isinstance(flood, dict) and "unavailable" in flood:
        lines.append(f"daemon flood: unavailable: {flood['unavailable']}")
    elif isinstance(flood, dict):
        lines.append(daemon.describe(daemon.Flood(**flood)))
    return "\n".join(lines)


def chart(rows: Sequence[dict[str, object]]) -> str:
    """Bars of lines/s (log scale), one group per case."""
    bars: list[tuple[str, str, float]] = []
    for row in rows:
        for side in ("floodwall", "peer"):
            value = row[side]
            assert isinstance(value, dict)
            if "lines_per_second" in value:
                bars.append((str(row["case"]), str(value["tool"]),
                             float(value["lines_per_second"])))
    import math

    width, bar_height, left = 900, 22, 330
    top = max(math.log10(max(rate for _, _, rate in bars)), 1.0)
    height = 40 + len(bars) * (bar_height + 6)
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
              f'font-family="sans-serif" font-size="12">'),
             '<text x="10" y="20" font-weight="bold">lines per second (log scale)</text>']
    for index, (case, tool, rate) in enumerate(bars):
        y = 34 + index * (bar_height + 6)
        length = (width - left - 120) * max(math.log10(max(rate, 1.0)), 0.0) / top
        colour = "#2b7a78" if tool.startswith("floodwall") else "#c0392b"
        parts.append(f'<text x="10" y="{y + 15}">{case}: {tool}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{bar_height}" '
                     f'fill="{colour}"/>')
        parts.append(f'<text x="{left + length + 6:.1f}" y="{y + 15}">{rate:,.0f}</text>')
    parts.append("</svg>\n")
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", nargs="?", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--access-lines", type=int, default=1_000_000)
    parser.add_argument("--ssh-lines", type=int, default=300_000)
    parser.add_argument("--flood-seconds", type=float, default=20.0,
                        help="how long the daemon case writes its flood")
    args = parser.parse_args(argv)
    run(args.out, args.runs, args.access_lines, args.ssh_lines, args.flood_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
