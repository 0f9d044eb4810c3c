"""`floodwall recon`: the table and the JSON, from a real ledger and real loopback servers."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from floodwall.model import Ban, Failure
from floodwall.storage.database import Database
from tests.recon.servers import DnsServer, rdap_server
from tests.recon.test_enricher import RDAP, RECORDS
from tests.support.configs import floodwall_toml
from tests.support.lines import access_line


def _config(root: Path, dns: str, rdap: str) -> Path:
    """floodwall.toml asking the DNS resolver `dns` and the RDAP server `rdap` (1 s each)."""
    return floodwall_toml(root, {"web": {"logpath": [root / "access.log"]}},
                          recon={"resolver": dns, "rdap_url": rdap, "timeout": 1,
                                 "rdap_interval": 0})


def _floodwall(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "floodwall", *args], capture_output=True,
                          text=True, timeout=60, check=False)


def _ban(database: Database, key: str, jail: str, start: float) -> None:
    failure = Failure(jail, key, start, "/srv/www/a.example/logs/access.log", 1,
                      access_line(key, "/.env", when=start).rstrip("\n"))
    database.add_bans([(Ban(key, jail, start, start + 3600, 1, "local", "test"), [failure])])


def test_recon_banned_table_and_json(tmp_path: Path) -> None:
    database = Database(tmp_path / "state" / "floodwall.sqlite3")
    now = time.time()
    _ban(database, "198.51.100.7", "web", now - 600)
    _ban(database, "198.51.100.7", "sshd", now - 300)
    _ban(database, "203.0.113.50", "web", now - 3 * 86400)  # older than --since
    database.close()
    with DnsServer(RECORDS) as dns_server, rdap_server(RDAP) as (rdap_url, _):
        config = _config(tmp_path, dns_server.address, rdap_url)
        result = _floodwall("recon", "--config", str(config), "--banned", "--since", "1d")
        assert result.returncode == 0, result.stderr
        header, *rows = result.stdout.splitlines()
        assert header.split()[:4] == ["address", "jails", "bans", "rdns"]
        assert len(rows) == 1
        cells = rows[0].split()
        assert cells[:4] == ["198.51.100.7", "sshd,web", "2", "host7.attacker.example"]
        assert "EXAMPLE-HOSTING-NET" in cells and "abuse@hosting.example" in cells
        assert "NL" in cells and cells[-2:] == ["not", "checked"]

        result = _floodwall("recon", "--config", str(config), "--json", "198.51.100.7")
        assert json.loads(result.stdout) == {
            "address": "198.51.100.7", "rdns": "host7.attacker.example", "asn": None,
            "as_name": None, "country": "NL", "network": "EXAMPLE-HOSTING-NET",
            "abuse": "abuse@hosting.example", "open_ports": None}


def test_offline_data_alone_answers_for_public_addresses(tmp_path: Path) -> None:
    config = _config(tmp_path, "127.0.0.1:9", "")
    result = _floodwall("recon", "--config", str(config), "--offline", "--json", "8.8.8.8",
                        "2001:4860:4860::8888")
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(a["address"], a["country"], a["as_name"]) for a in answers] == [
        ("8.8.8.8", "US", "GOOGLE"), ("2001:4860:4860::8888", "US", "GOOGLE")]
    assert all(a["asn"] is None or isinstance(a["asn"], int) for a in answers)


def test_bad_addresses_are_refused(tmp_path: Path) -> None:
    config = _config(tmp_path, "127.0.0.1:9", "")
    result = _floodwall("recon", "--config", str(config), "--offline", "8.8.8.8; reboot")
    assert result.returncode == 1
    assert "is not an IP address" in result.stderr
