"""Bans in nftables: one `inet` table, four timeout sets per jail, one `nft -f -` per batch.

Each jail has a plain set per family for single addresses and an interval set per family for
prefixes: nft reads every element of a table's interval sets before any element command, so
one interval set holding every banned address makes each ban cost time in proportion to the
bans already made (about 100 ms at 20,000). A "drop" jail drops every packet from its sets;
a "throttle" jail lets each source in its sets through at the jail's rate, counted per
source address in a dynamic meter set."""

from __future__ import annotations

import json
import logging
import re
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from floodwall.enforcement.base import (
    ApplyError,
    JailFirewall,
    Network,
    key_element,
    key_text,
    parse_key,
    timeout_seconds,
)
from floodwall.errors import EnforcementError
from floodwall.model import Change

log = logging.getLogger("floodwall.enforcement")

NFT_TIMEOUT = 60.0
"""Seconds one `nft` process may run before it is considered hung."""
METER_SIZE = 65535
"""Throttled sources tracked at once per jail and family (nft's limit for a dynamic set)."""
METER_IDLE = "60s"
"""A throttled source silent this long is forgotten (its budget is full again)."""

_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")


class _NftRefused(EnforcementError):
    """nft ran and rejected the script (as opposed to nft not being runnable at all)."""


@dataclass(frozen=True, slots=True)
class _JailSets:
    """The generated nft names of one jail's sets: banned addresses, banned prefixes (interval
    sets), and per-source meters."""

    v4: str
    v6: str
    prefix4: str
    prefix6: str
    meter4: str
    meter6: str

    def banned(self) -> tuple[str, str, str, str]:
        """The four sets that hold banned keys."""
        return (self.v4, self.v6, self.prefix4, self.prefix6)


@dataclass(frozen=True, slots=True)
class _Step:
    """One change turned into nft terms: which set, which element, which timeout."""

    change: Change
    set_name: str
    element: str
    timeout: int | None
    present: bool
    """The element may already be in the set (added before and not removed since)."""
    other_set: str
    """The jail's set of the other kind (prefixes for an address, and back), same family."""


class NftablesEnforcer:
    """Enforcer that keeps each jail's banned keys in nftables sets dropped (or throttled) on
    input and forward."""

    def __init__(self, table: str = "floodwall", command: Sequence[str] = ("nft",)) -> None:
        if not _IDENTIFIER.fullmatch(table):
            raise EnforcementError(
                f"nftables table name '{table}' must be a letter followed by up to 31 "
                "letters, digits or underscores")
        self.table = table
        self.command = tuple(command)
        self._sets: dict[str, _JailSets] = {}
        self._present: dict[str, set[str]] = {}
        """Set name -> elements added and not removed since setup() (they may have timed
        out since): a new element needs one `add`, a known one the add/delete/add that
        replaces its timeout."""

    def setup(self, jails: Sequence[JailFirewall]) -> None:
        """Replace our table, atomically, by empty sets and drop rules for these jails."""
        self._run(self._new_table(jails))

    def rebuild(self, jails: Sequence[JailFirewall], changes: Sequence[Change],
                now: float) -> None:
        """Replace our table by these jails' sets and rules holding these bans, in one nft
        transaction: the old table drops until the new one, already full, takes over. Should
        nft refuse an element, the table is built and filled as setup() and apply() do."""
        script = self._new_table(jails)
        kept, failures = self._plan(changes, now)
        try:
            self._run(script + _elements_script(self.table, kept))
        except _NftRefused as error:
            log.warning("nft refused the rebuilt table with its %d bans (%s); building it "
                        "empty and adding them after", len(kept), error)
            self._run(script)
            failures += self._apply_steps(kept)
        else:
            self._mark(kept)
        if failures:
            raise ApplyError(failures)

    def apply(self, changes: Sequence[Change], now: float) -> None:
        """Apply the batch in one nft transaction; on failure, isolate the bad changes by
        splitting the batch, apply the rest, then raise ApplyError naming the bad ones."""
        kept, failures = self._plan(changes, now)
        failures += self._apply_steps(kept)
        if failures:
            raise ApplyError(failures)

    def _new_table(self, jails: Sequence[JailFirewall]) -> str:
        """The script that replaces our table by these jails' empty sets and rules; from
        here on the changes planned are those of the new table."""
        names = [jail.name for jail in jails]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise EnforcementError(
                f"jail name(s) {', '.join(map(repr, duplicates))} given more than once to the "
                "firewall; each jail needs its own name")
        sets = {jail.name: _jail_sets(index, jail.name) for index, jail in enumerate(jails)}
        script = _table_script(self.table, jails, sets)
        self._sets = sets
        self._present = {name: set() for names in sets.values() for name in names.banned()}
        return script

    def _plan(self, changes: Sequence[Change], now: float
              ) -> tuple[list[_Step], list[tuple[Change, str]]]:
        """The steps of a batch (the last change to an element decides it), and the changes
        refused before nft sees them."""
        failures: list[tuple[Change, str]] = []
        steps: dict[tuple[str, str], _Step] = {}
        for change in changes:
            try:
                step = self._step(change, now)
            except EnforcementError as error:
                failures.append((change, str(error)))
                continue
            if step is not None:
                steps[(step.set_name, step.element)] = step
        removed = {place for place, step in steps.items() if step.change.action == "remove"}
        kept: list[_Step] = []
        for step in steps.values():
            if step.change.action == "add":
                others = (e for e in self._present[step.other_set]
                          if (step.other_set, e) not in removed)
                try:
                    _refuse_overlap(step.element, others, step.change.ban.jail)
                except EnforcementError as error:
                    failures.append((step.change, str(error)))
                    continue
            kept.append(step)
        return kept, failures

    def elements(self) -> dict[str, list[str]]:
        """Jail name -> keys now in its sets, for the jails of the last setup()."""
        listing = self._run_json(["list", "table", "inet", self.table])
        by_set = {
            item["set"]["name"]: [_element_key(element) for element in item["set"].get("elem", [])]
            for item in listing.get("nftables", []) if "set" in item
        }
        return {jail: sorted(key for name in sets.banned() for key in by_set.get(name, []))
                for jail, sets in self._sets.items()}

    def close(self) -> None:
        """Nothing to do: the sets keep their bans (and timeouts) while the daemon is down."""

    def teardown(self) -> None:
        """Delete our table (and with it every set and rule); no error if it is absent."""
        self._run(f"add table inet {self.table}\ndelete table inet {self.table}\n")
        self._sets = {}
        self._present = {}

    def _step(self, change: Change, now: float) -> _Step | None:
        ban = change.ban
        sets = self._sets.get(ban.jail)
        if sets is None:
            raise EnforcementError(
                f"jail '{ban.jail}' has no firewall sets; it must be among the jails given "
                "to setup()")
        version, single, element = key_element(ban.key)
        timeout = timeout_seconds(ban, now) if change.action == "add" else None
        if timeout == 0:
            log.debug("skipping ban of %s in jail '%s': already expired", ban.key, ban.jail)
            return None
        if version == 4:
            set_name, other = (sets.v4, sets.prefix4) if single else (sets.prefix4, sets.v4)
        else:
            set_name, other = (sets.v6, sets.prefix6) if single else (sets.prefix6, sets.v6)
        return _Step(change=change, set_name=set_name, element=element, timeout=timeout,
                     present=element in self._present[set_name], other_set=other)

    def _apply_steps(self, steps: list[_Step]) -> list[tuple[Change, str]]:
        if not steps:
            return []
        try:
            self._run(_elements_script(self.table, steps))
            self._mark(steps)
        except _NftRefused as error:
            # A refused script changes nothing, so halves can be retried safely.
            if len(steps) == 1:
                return [(steps[0].change, str(error))]
            log.warning("nft refused a batch of %d changes; retrying in halves", len(steps))
            middle = len(steps) // 2
            return self._apply_steps(steps[:middle]) + self._apply_steps(steps[middle:])
        return []

    def _mark(self, steps: Sequence[_Step]) -> None:
        """Note what the applied steps put in (or took out of) the sets."""
        for step in steps:
            present = self._present[step.set_name]
            if step.change.action == "add":
                present.add(step.element)
            else:
                present.discard(step.element)

    def _run(self, script: str) -> None:
        self._nft(["-f", "-"], script)

    def _run_json(self, arguments: list[str]) -> dict[str, Any]:
        output = self._nft(["-j", *arguments], None)
        try:
            listing: dict[str, Any] = json.loads(output)
            return listing
        except ValueError as error:
            raise EnforcementError(
                f"'{' '.join(self.command)} -j {' '.join(arguments)}' printed invalid JSON "
                f"({error}); is nft at least version 0.9?") from None

    def _nft(self, arguments: list[str], stdin: str | None) -> str:
        argv = [*self.command, *arguments]
        try:
            result = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                                    timeout=NFT_TIMEOUT, check=False)
        except FileNotFoundError:
            raise EnforcementError(
                f"cannot run '{argv[0]}': not found; install nftables "
                "(apt-get install nftables) or set the nft command path") from None
        except subprocess.TimeoutExpired:
            raise EnforcementError(
                f"'{' '.join(argv)}' did not finish within {NFT_TIMEOUT:.0f}s") from None
        if result.returncode != 0:
            message = result.stderr.strip() or f"exit status {result.returncode}"
            hint = ("; run as root or with CAP_NET_ADMIN"
                    if "Operation not permitted" in message else "")
            raise _NftRefused(f"'{' '.join(argv)}' failed: {message}{hint}")
        return result.stdout


def _refuse_overlap(element: str, others: Iterable[str], jail: str) -> None:
    """An address inside a banned prefix, or a prefix over banned addresses, of the same jail
    is refused, as nft refuses overlapping elements of one interval set."""
    network: Network | None = None
    for text in others:
        network = network or parse_key(element)
        other = parse_key(text)
        if network.overlaps(other):
            inner, outer = (network, other) if network.prefixlen > other.prefixlen else (
                other, network)
            raise EnforcementError(
                f"{key_text(inner)} lies inside {outer}, both banned in jail '{jail}'; "
                "lift the addresses before banning their prefix (the prefix covers them)")


def _jail_sets(index: int, name: str) -> _JailSets:
    """Set names for the jail at `index`: unique by the index, readable by the slug."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:20]
    stem = f"j{index}_{slug}" if slug else f"j{index}"
    return _JailSets(v4=f"{stem}_v4", v6=f"{stem}_v6", prefix4=f"{stem}_p4",
                     prefix6=f"{stem}_p6", meter4=f"{stem}_m4", meter6=f"{stem}_m6")


def _table_script(table: str, jails: Sequence[JailFirewall], sets: dict[str, _JailSets]) -> str:
    """nft script that replaces `table` in one transaction."""
    declarations: list[str] = []
    rules: list[str] = []
    for jail in jails:
        names = sets[jail.name]
        declarations.append(f"  set {names.v4} {{ type ipv4_addr; flags timeout; }}")
        declarations.append(f"  set {names.v6} {{ type ipv6_addr; flags timeout; }}")
        declarations.append(f"  set {names.prefix4} {{ type ipv4_addr; flags interval, timeout; }}")
        declarations.append(f"  set {names.prefix6} {{ type ipv6_addr; flags interval, timeout; }}")
        match = _port_match(jail)
        rate = jail.throttle()
        banned = (("ip", names.v4, names.meter4), ("ip6", names.v6, names.meter6),
                  ("ip", names.prefix4, names.meter4), ("ip6", names.prefix6, names.meter6))
        if rate is None:
            rules += [f"    {match}{family} saddr @{name} drop" for family, name, _ in banned]
            continue
        for meter, kind in ((names.meter4, "ipv4_addr"), (names.meter6, "ipv6_addr")):
            declarations.append(f"  set {meter} {{ type {kind}; size {METER_SIZE}; "
                                f"flags dynamic, timeout; timeout {METER_IDLE}; }}")
        # Keyed by the packet's own source, so each address of a banned prefix has its budget.
        rules += [f"    {match}{family} saddr @{name} update @{meter} "
                  f"{{ {family} saddr {rate.nft()} }} drop" for family, name, meter in banned]
    # Neighbour discovery stays open: a host's solicitation for a packet from its banned
    # address would otherwise leave its other, legitimate addresses unresolved too.
    # (`accept` ends only this chain; other tables still see the packet.)
    neighbour = "    icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept\n"
    chains = [
        f"  chain {hook} {{\n"
        f"    type filter hook {hook} priority filter - 10; policy accept;\n"
        + (neighbour if hook == "input" else "")
        + "".join(rule + "\n" for rule in rules)
        + "  }"
        for hook in ("input", "forward")
    ]
    body = "\n".join(declarations + chains)
    # `add` first so that `delete` never fails on a machine without the table.
    return f"add table inet {table}\ndelete table inet {table}\ntable inet {table} {{\n{body}\n}}\n"


def _port_match(jail: JailFirewall) -> str:
    """The rule prefix restricting a jail's drop to its ports ("" for all ports)."""
    if not jail.ports:
        return ""
    ports = ", ".join(str(low) if low == high else f"{low}-{high}"
                      for low, high in jail.port_ranges())
    protocol = "{ tcp, udp }" if jail.protocol == "all" else jail.protocol
    return f"meta l4proto {protocol} th dport {{ {ports} }} "


def _elements_script(table: str, steps: Sequence[_Step]) -> str:
    """nft script for the steps: per set, add every element that may be there or goes away
    (so the delete cannot fail), delete them (which drops old timeouts), then add the ones
    to ban. A new element is only added: a delete costs nft a read of the whole set."""
    by_set: dict[str, list[_Step]] = {}
    for step in steps:
        by_set.setdefault(step.set_name, []).append(step)
    lines: list[str] = []
    for set_name, set_steps in by_set.items():
        touched = ", ".join(step.element for step in set_steps
                            if step.present or step.change.action == "remove")
        if touched:
            lines.append(f"add element inet {table} {set_name} {{ {touched} }}")
            lines.append(f"delete element inet {table} {set_name} {{ {touched} }}")
        added = [step.element if step.timeout is None else f"{step.element} timeout {step.timeout}s"
                 for step in set_steps if step.change.action == "add"]
        if added:
            lines.append(f"add element inet {table} {set_name} {{ {', '.join(added)} }}")
    return "\n".join(lines) + "\n"


def _element_key(element: object) -> str:
    """A set element from `nft -j` output as a key: "192.0.2.1" or "203.0.113.0/24"."""
    if isinstance(element, dict) and "elem" in element:
        element = element["elem"]["val"]
    if isinstance(element, dict) and "prefix" in element:
        return f"{element['prefix']['addr']}/{element['prefix']['len']}"
    if isinstance(element, dict) and "range" in element:
        return "-".join(str(bound) for bound in element["range"])
    return str(element)
