"""The opt-in backdoor port check against a real listener in a test namespace, through the
`floodwall recon` command run from another namespace."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.support.configs import floodwall_toml
from tests.support.netns import (
    Link,
    Namespace,
    network,
    skip_reason,
    start_tcp_listener,
    wait_for_tcp,
)

REASON = skip_reason(("ip",))
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"LOUD SKIP: {REASON}")
SCANNER, ATTACKER = "192.0.2.1", "192.0.2.66"

def _recon(namespace: Namespace, root: Path, check: bool, *args: str) -> str:
    # each setting its own directory: its own state, so no answer cached by the other
    home = root / ("checking" if check else "not-checking")
    path = floodwall_toml(home, {"web": {"logpath": [home / "access.log"]}},
                          recon={"resolver": "127.0.0.1:53",  # nothing answers in the namespace
                                 "rdap_url": "", "timeout": 1, "backdoor_check": check,
                                 "backdoor_ports": [9999, 5555]})
    result = namespace.run([sys.executable, "-m", "floodwall", "recon", "--config", str(path),
                            *args, ATTACKER])
    return result.stdout


def test_open_backdoor_ports_are_found_only_when_asked(tmp_path: Path) -> None:
    with network(2, [Link(0, 1, (f"{SCANNER}/24",), (f"{ATTACKER}/24",))]) as (host, attacker):
        start_tcp_listener(attacker, [9999])
        wait_for_tcp(host, ATTACKER, 9999)

        found = json.loads(_recon(host, tmp_path, True, "--json"))
        assert found["open_ports"] == [9999]  # 5555 is closed
        assert list(found) == sorted(
            ["address", "rdns", "asn", "as_name", "country", "network", "abuse", "open_ports"])

        table = _recon(host, tmp_path, True).splitlines()
        assert table[0].split()[-2:] == ["open", "ports"]
        assert table[1].split()[0] == ATTACKER and table[1].split()[-1] == "9999"

        # Off by default: the attacker's host is not touched, the column says so.
        unchecked = json.loads(_recon(host, tmp_path, False, "--json"))
        assert unchecked["open_ports"] is None
        assert "not checked" in _recon(host, tmp_path, False)
