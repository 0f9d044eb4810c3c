"""The traffic generator: same bytes for same arguments, its layout, and a truth recounted here
from the written files by a parser of this test's own."""

from __future__ import annotations

import bisect
import ipaddress
import itertools
import re
import subprocess
import sys
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.traffic import ACTORS, JAILS, Truth, generate, load_truth

REPO = Path(__file__).resolve().parents[2]
LINES = 25_000
DOC_NETS = [ipaddress.ip_network(net) for net in (
    "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "100.64.0.0/10")]
QUOTED = r'"((?:[^"\\]|\\.)*)"'
HOSTER = re.compile(rf'^(\S+) \S+ (\S+) \[([^\]]+)\] \d+ \d+ {QUOTED} (\d{{3}}) (?:\d+|-) '
                    rf'{QUOTED} {QUOTED} (\S+) (\d+)$')
COMBINED = re.compile(rf'^(\S+) \S+ (\S+) \[([^\]]+)\] {QUOTED} (\d{{3}}) (?:\d+|-) '
                      rf'{QUOTED} {QUOTED}$')
SYSLOG = re.compile(r"^(\w{3}) ([ \d]\d) (\d\d:\d\d:\d\d) web1 ([\w-]+)\[(\d+)\]: (.*)$")
FAILED = re.compile(r"^Failed \S+ for .* from (\S+) port \d+ ssh2(?::.*)?$")
INVALID = re.compile(r"^Invalid user .* from (\S+) port \d+$")
CLOSED_INVALID = re.compile(r"^(?:Connection closed by|Disconnected from) invalid user .* "
                            r"port \d+ \[preauth\]$")


@dataclass(frozen=True)
class Hit:
    """One access-log line as this test reads it."""

    file: str
    time: int
    address: str
    user: str
    method: str
    path: str
    status: int
    text: str


@dataclass(frozen=True)
class Run:
    """A generated directory, its returned truth, and what this test parsed from it."""

    out: Path
    truth: Truth
    hits: list[Hit]
    ssh: list[tuple[int, int, str]]  # (time, pid, message) of sshd lines


def read_access_log(path: Path, pattern: re.Pattern[str]) -> list[Hit]:
    """Parse one vhost log."""
    hits = []
    for text in path.read_text(encoding="utf-8").splitlines():
        match = pattern.match(text)
        assert match, f"{path}: unparsable line {text!r}"
        address, user, stamp, request = match.group(1, 2, 3, 4)
        when = int(datetime.strptime(stamp, "%d/%b/%Y:%H:%M:%S %z").timestamp())
        method, target, _ = request.split(" ")
        hits.append(Hit(path.parts[-3], when, address, user, method, target.split("?")[0],
                        int(match.group(5)), text))
    return hits


def read_auth_log(path: Path, year: int) -> list[tuple[int, str, int, str]]:
    """(time, program, pid, message) of every auth.log line."""
    entries = []
    for text in path.read_text(encoding="utf-8").splitlines():
        match = SYSLOG.match(text)
        assert match, f"unparsable auth.log line {text!r}"
        month, day, clock, program, pid, message = match.groups()
        when = datetime.strptime(f"{year} {month} {day.strip()} {clock}", "%Y %b %d %H:%M:%S")
        entries.append((int(when.replace(tzinfo=UTC).timestamp()), program, int(pid), message))
    return entries


def make_run(out: Path, **arguments: object) -> Run:
    """Generate into `out` and parse everything back."""
    truth = generate(out, **arguments)  # type: ignore[arg-type]
    pattern = HOSTER if truth.format == "hoster" else COMBINED
    hits = [hit for path in sorted(out.glob("www/*/logs/access.log"))
            for hit in read_access_log(path, pattern)]
    year = datetime.fromtimestamp(truth.start, UTC).year
    ssh = [(when, pid, message) for when, program, pid, message
           in read_auth_log(out / "auth.log", year) if program == "sshd"]
    return Run(out, truth, hits, ssh)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The default layout (300 vhosts, hoster format) at a test-sized line count."""
    return make_run(tmp_path_factory.mktemp("traffic"), lines=LINES, seed=7)


def web_failures(hits: Iterable[Hit], *, robots_count: bool = False
                 ) -> dict[tuple[str, str], list[int]]:
    """Failure times per (jail, address), counted from parsed lines."""
    failures: dict[tuple[str, str], list[int]] = defaultdict(list)
    for hit in hits:
        if (hit.method == "GET" and hit.status in (401, 403, 404, 503)
                and (robots_count or hit.path != "/robots.txt")):
            failures["http-get-dos", hit.address].append(hit.time)
        elif hit.method == "POST" and (hit.path.endswith("/wp-login.php")
                                       or hit.path.endswith("/xmlrpc.php")):
            failures["wordpress-bruteforce", hit.address].append(hit.time)
    return failures


def ssh_failures(ssh: Iterable[tuple[int, int, str]]) -> dict[tuple[str, str], list[int]]:
    """Attempt times per ('sshd', address): Failed lines, or the close of a bare Invalid user."""
    failed: dict[int, list[tuple[str, int]]] = defaultdict(list)
    invalid: dict[int, str] = {}
    closed: dict[int, int] = {}
    for when, pid, message in ssh:
        if match := FAILED.match(message):
            failed[pid].append((match.group(1), when))
        elif match := INVALID.match(message):
            invalid[pid] = match.group(1)
        elif CLOSED_INVALID.match(message):
            closed[pid] = when
    failures: dict[tuple[str, str], list[int]] = defaultdict(list)
    for attempts in failed.values():
        for address, when in attempts:
            failures["sshd", address].append(when)
    for pid, address in invalid.items():
        if pid not in failed:
            failures["sshd", address].append(closed[pid])
    return failures


def first_ban(times: list[int], threshold: int, findtime: int, *, closed: bool = False
              ) -> int | None:
    """First time whose window (t - findtime, t] (or [t - findtime, t]) holds `threshold`."""
    ordered = sorted(times)
    for i, when in enumerate(ordered):
        oldest = when - findtime
        first = (bisect.bisect_left if closed else bisect.bisect_right)(ordered, oldest)
        if i + 1 - first >= threshold:
            return when
    return None


def recount(failures: dict[tuple[str, str], list[int]], *, closed: bool = False
            ) -> set[tuple[str, str, int]]:
    """(jail, address, first ban time) for every key crossing its jail's threshold."""
    rules = {rule.jail: rule for rule in JAILS}
    bans = set()
    for (jail, address), times in failures.items():
        crossed = first_ban(times, rules[jail].threshold, rules[jail].findtime, closed=closed)
        if crossed is not None:
            bans.add((jail, address, crossed))
    return bans


def addresses_of(actor: str) -> tuple[str, ...]:
    """The addresses the design gives `actor`."""
    return next(a.addresses for a in ACTORS if a.name == actor)


def all_files(out: Path) -> dict[str, bytes]:
    """Every file under `out`, by relative path."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file()}


def test_same_arguments_give_the_same_bytes_in_another_process(tmp_path: Path) -> None:
    arguments = ["--lines", "20000", "--vhosts", "7", "--format", "combined", "--seed", "3"]
    done = subprocess.run([sys.executable, "-m", "bench.traffic", str(tmp_path / "cli"),
                           *arguments], cwd=REPO, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "20000 lines" in done.stdout
    generate(tmp_path / "api", lines=20_000, vhosts=7, fmt="combined", seed=3)
    assert all_files(tmp_path / "cli") == all_files(tmp_path / "api")
    generate(tmp_path / "other", lines=20_000, vhosts=7, fmt="combined", seed=4)
    assert all_files(tmp_path / "other") != all_files(tmp_path / "api")


def test_layout_line_count_and_time_order(run: Run) -> None:
    logs = sorted(p.parts[-3] for p in run.out.glob("www/*/logs/access.log"))
    assert logs == [f"site{i:03d}.example" for i in range(1, 301)]
    per_file: dict[str, list[int]] = defaultdict(list)
    for hit in run.hits:
        per_file[hit.file].append(hit.time)
    assert all(times == sorted(times) and times for times in per_file.values())
    assert all(hit.text.endswith(f" {hit.file} 443") or hit.text.endswith(f" {hit.file} 80")
               for hit in run.hits)
    auth = read_auth_log(run.out / "auth.log", 2026)
    assert [when for when, *_ in auth] == sorted(when for when, *_ in auth)
    assert len(run.hits) + len(auth) == run.truth.lines == LINES
    every = [hit.time for hit in run.hits] + [when for when, *_ in auth]
    assert run.truth.start <= min(every) and max(every) < run.truth.end


def test_combined_format_has_no_vhost_fields(tmp_path: Path) -> None:
    result = make_run(tmp_path, lines=20_000, vhosts=3, fmt="combined")
    assert result.truth.format == "combined" and len(result.hits) > 15_000
    assert result.truth.bans  # the scripted attacks still cross with 3 vhosts
    assert {hit.file for hit in result.hits} == {"site001.example", "site002.example",
                                                 "site003.example"}


def test_every_address_is_documentation_space_and_owned_by_one_actor(run: Run) -> None:
    owners: dict[str, str] = {}
    for actor in run.truth.actors:
        for address in actor.addresses:
            assert address not in owners, f"{address} belongs to {owners[address]} too"
            assert ipaddress.ip_address(address).compressed == address
            assert any(ipaddress.ip_address(address) in net for net in DOC_NETS), address
            owners[address] = actor.actor
    seen = {hit.address for hit in run.hits}
    seen |= {address for _, address in ssh_failures(run.ssh)}
    assert seen <= owners.keys()
    assert len([a for a in seen if owners[a] == "legit"]) >= 300


def test_truth_equals_an_independent_recount_of_the_files(run: Run) -> None:
    failures = web_failures(run.hits) | ssh_failures(run.ssh)
    expected = recount(failures)
    assert {(b.jail, b.address, b.first_ban_time) for b in run.truth.bans} == expected
    owners = {a: actor.actor for actor in run.truth.actors for a in actor.addresses}
    assert all(ban.actor == owners[ban.address] for ban in run.truth.bans)


@pytest.mark.parametrize("seed", [7, 8])
def test_design_agrees_with_the_counted_truth(run: Run, tmp_path: Path, seed: int) -> None:
    truth = run.truth if seed == 7 else generate(tmp_path, lines=LINES, seed=seed)
    jails_by_address: dict[str, set[str]] = defaultdict(set)
    for ban in truth.bans:
        jails_by_address[ban.address].add(ban.jail)
    verdicts = {actor.actor: actor.banned for actor in truth.actors}
    for actor in ACTORS:
        assert verdicts[actor.name] == bool(actor.designed_jails), actor.name
        for address in actor.addresses:
            assert jails_by_address[address] == actor.designed_jails, (actor.name, address)


def test_truth_json_round_trips(run: Run) -> None:
    assert load_truth(run.out / "truth.json") == run.truth


def test_crawler_needs_robots_exception_and_time_merging(run: Run) -> None:
    crawler = addresses_of("crawler")[0]
    hits = [hit for hit in run.hits if hit.address == crawler]
    assert {hit.file for hit in hits if hit.path == "/robots.txt" and hit.status == 404} == {
        f"site{i:03d}.example" for i in range(1, 301)}
    with_robots = recount(web_failures(hits, robots_count=True))
    assert {(jail, address) for jail, address, _ in with_robots} == {("http-get-dos", crawler)}
    # A reader that takes the files one after another, with a window that only drops
    # failures from its old end, keeps every earlier file's failures and crosses 300.
    window: deque[int] = deque()
    crossed = False
    for failures in (sorted(t for t in web_failures(
            [h for h in hits if h.file == name])["http-get-dos", crawler])
            for name in sorted({h.file for h in hits})):
        for when in failures:
            window.append(when)
            while window[0] <= when - 300:
                window.popleft()
            crossed = crossed or len(window) > 300
    assert crossed


def test_slow_ssh_guesser_sits_on_the_window_boundary(run: Run) -> None:
    address = addresses_of("slow-ssh-guesser")[0]
    attempts = sorted(ssh_failures(run.ssh)["sshd", address])
    assert len(attempts) == 24 and {b - a for a, b in itertools.pairwise(attempts)} == {150}
    assert first_ban(attempts, 5, 600) is None
    assert first_ban(attempts, 5, 600, closed=True) is not None
    lines = [when for when, _, message in run.ssh if address in message]
    assert first_ban(lines, 5, 600) is not None  # a line counter would ban it


def test_ssh_noise_is_not_counted(run: Run) -> None:
    counted = ssh_failures(run.ssh)
    probe = addresses_of("ssh-banner-probe")[0]
    assert len([1 for _, _, message in run.ssh if probe in message]) >= 40
    assert ("sshd", probe) not in counted
    user_probe = addresses_of("ssh-user-probe")[0]
    assert not any(FAILED.match(m) for _, _, m in run.ssh if user_probe in m)
    assert len(counted["sshd", user_probe]) == 6


def test_nat_office_and_slow_attacker_stay_just_under(run: Run) -> None:
    office = addresses_of("nat-office")[0]
    everything = [hit.time for hit in run.hits if hit.address == office]
    assert first_ban(everything, 301, 300) is not None  # counting every request would ban
    slow = addresses_of("slow-web-attacker")[0]
    failures = web_failures(run.hits)["http-get-dos", slow]
    assert first_ban(failures, 270, 300) is not None
    assert first_ban(failures, 301, 300) is None


def test_distributed_scanner_is_thin_in_every_file(run: Run) -> None:
    for address in addresses_of("distributed-scanner"):
        per_file: dict[str, int] = defaultdict(int)
        for hit in run.hits:
            if hit.address == address:
                per_file[hit.file] += 1
        assert len(per_file) == 300 and max(per_file.values()) <= 3


def test_victims_are_named_but_never_a_source(run: Run) -> None:
    victims = addresses_of("victim")
    named_web = [hit for hit in run.hits if any(v in hit.text for v in victims)]
    named_ssh = [(when, m) for when, _, m in run.ssh if any(v in m for v in victims)]
    assert {hit.address for hit in named_web} == set(addresses_of("injector"))
    assert any(hit.user == victims[0] for hit in named_web)
    assert any('\\"' in hit.text for hit in named_web)
    assert any(m.startswith("Invalid user ") and " from 192.0.2.99 from " in m
               for _, m in named_ssh)
    assert not any(address in victims for _, address in web_failures(run.hits))
    assert not any(address in victims for _, address in ssh_failures(run.ssh))
    # Attributed to the victim, the injectors' lines would ban it in every jail.
    misread: dict[tuple[str, str], list[int]] = defaultdict(list)
    for (jail, _), times in web_failures(named_web).items():
        misread[jail, victims[0]] += times
    misread["sshd", victims[0]] = [when for when, m in named_ssh if m.startswith("Failed")]
    assert {jail for jail, _, _ in recount(misread)} == {rule.jail for rule in JAILS}


def test_bad_arguments_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ask for at least"):
        generate(tmp_path, lines=1_000)
    with pytest.raises(ValueError, match="hoster, combined"):
        generate(tmp_path, fmt="json")
    assert not any(tmp_path.iterdir())
