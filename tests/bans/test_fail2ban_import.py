"""Taking over fail2ban's bans from a database the real fail2ban (Debian's package) wrote:
fail2ban-server runs with its own configuration in a temporary directory and bans addresses
through fail2ban-client; floodwall then imports its database."""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from floodwall.bans.fail2ban_import import read_fail2ban
from floodwall.bans.ledger import Ledger
from floodwall.cli import transfer_cmds
from floodwall.config.loader import load_config
from floodwall.errors import StorageError
from floodwall.server.imports import deliver
from floodwall.storage.database import Database
from tests.support.configs import floodwall_toml
from tests.support.waiting import wait_until

SERVER = shutil.which("fail2ban-server")
CLIENT = shutil.which("fail2ban-client")

FAIL2BAN_CONF = """[Definition]
loglevel = INFO
logtarget = {root}/fail2ban.log
syslogsocket = auto
socket = {root}/fail2ban.sock
pidfile = {root}/fail2ban.pid
dbfile = {root}/fail2ban.sqlite3
dbpurgeage = 1d
"""
JAIL_CONF = """[DEFAULT]
backend = polling
filter = never
logpath = {root}/app.log
action =

[web]
enabled = true
bantime = 3600

[forever]
enabled = true
bantime = -1

[brief]
enabled = true
bantime = 1
"""
@dataclass
class Fail2ban:
    """A fail2ban-server of the test's own, in the foreground, driven by fail2ban-client."""

    root: Path
    process: subprocess.Popen[str]

    def client(self, *args: str) -> str:
        result = subprocess.run(
            [str(CLIENT), "-c", str(self.root / "conf"), "-s", str(self.root / "fail2ban.sock"),
             *args], capture_output=True, text=True, timeout=30, check=False)
        assert result.returncode == 0, f"fail2ban-client {' '.join(args)}: {result.stderr}"
        return result.stdout.strip()

    def banned(self, jail: str, address: str) -> bool:
        return self.client("get", jail, "banned", address) == "1"

    def stop(self) -> None:
        self.client("stop")
        self.process.wait(timeout=30)


@pytest.fixture
def fail2ban(tmp_path: Path) -> Iterator[Fail2ban]:
    if SERVER is None or CLIENT is None:
        pytest.skip("FAIL2BAN IMPORT TEST SKIPPED: fail2ban-server is not installed "
                    "(apt-get install fail2ban, or make system-deps as root)")
    (tmp_path / "conf" / "filter.d").mkdir(parents=True)
    (tmp_path / "conf" / "action.d").mkdir()
    (tmp_path / "conf" / "fail2ban.conf").write_text(FAIL2BAN_CONF.format(root=tmp_path))
    (tmp_path / "conf" / "jail.conf").write_text(JAIL_CONF.format(root=tmp_path))
    (tmp_path / "conf" / "filter.d" / "never.conf").write_text(
        "[Definition]\nfailregex = ^never matches <HOST>$\n")
    (tmp_path / "app.log").touch()
    process = subprocess.Popen(
        [SERVER, "-f", "-x", "-c", str(tmp_path / "conf"), "-s", str(tmp_path / "fail2ban.sock"),
         "-p", str(tmp_path / "fail2ban.pid")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    server = Fail2ban(tmp_path, process)
    try:
        wait_until(lambda: _answers(server), 20, "fail2ban-server to answer ping")
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=15)


def _answers(server: Fail2ban) -> bool:
    assert server.process.poll() is None, (server.root / "fail2ban.log").read_text()[-2000:]
    result = subprocess.run([str(CLIENT), "-c", str(server.root / "conf"), "-s",
                             str(server.root / "fail2ban.sock"), "ping"],
                            capture_output=True, timeout=30, check=False)
    return result.returncode == 0


def test_active_bans_and_history_are_taken_over_once(
        fail2ban: Fail2ban, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fail2ban.client("set", "web", "banip", "192.0.2.5", "2001:db8::7")
    fail2ban.client("set", "forever", "banip", "198.51.100.9")
    fail2ban.client("set", "brief", "banip", "203.0.113.3")
    # fail2ban lifts its own 1 s ban; then the address is banned (and lifted) a second time.
    wait_until(lambda: not fail2ban.banned("brief", "203.0.113.3"), 15, "the 1 s ban to end")
    fail2ban.client("set", "brief", "banip", "203.0.113.3")
    wait_until(lambda: not fail2ban.banned("brief", "203.0.113.3"), 15, "the 2nd ban to end")
    fail2ban.stop()
    database_file = tmp_path / "fail2ban.sqlite3"
    f2b = sqlite3.connect(database_file)
    starts = dict(f2b.execute("SELECT ip, max(timeofban) FROM bans GROUP BY ip").fetchall())
    brief_starts = [row[0] for row in f2b.execute(
        "SELECT timeofban FROM bans WHERE ip = '203.0.113.3' ORDER BY timeofban")]
    f2b.close()
    assert len(brief_starts) == 2
    checksum = hashlib.sha256(database_file.read_bytes()).hexdigest()
    config = load_config(floodwall_toml(tmp_path, {"web": {"logpath": [tmp_path / "app.log"]}}))

    found = read_fail2ban(str(database_file))
    intake, by_daemon = deliver(config, found.entries, time.time())

    assert not by_daemon
    assert (intake.enforced, intake.history, intake.known) == (3, 2, 0)
    database = Database(config.database)
    try:
        active = {(b.key, b.jail): (b.start, b.until, b.origin) for b in Ledger(database).active()}
        assert active == {
            ("192.0.2.5", "web"): (starts["192.0.2.5"], starts["192.0.2.5"] + 3600, "fail2ban"),
            ("2001:db8::7", "web"): (starts["2001:db8::7"], starts["2001:db8::7"] + 3600,
                                     "fail2ban"),
            ("198.51.100.9", "forever"): (starts["198.51.100.9"], None, "fail2ban"),
        }
        history = [(s.ban.jail, s.ban.start, s.ended, s.ban.origin)
                   for s in database.bans_of("203.0.113.3")]
        assert history == [("brief", start, start + 1, "fail2ban") for start in brief_starts]
    finally:
        database.close()

    parser = argparse.ArgumentParser(prog="floodwall")
    transfer_cmds.register(parser.add_subparsers())
    args = parser.parse_args(["import-fail2ban", str(database_file), "--config",
                              str(tmp_path / "floodwall.toml")])
    assert args.func(args) == 0

    assert "0 active ban(s) enforced, 0 past ban(s) kept as history, 5 already known" in \
        capsys.readouterr().out
    assert hashlib.sha256(database_file.read_bytes()).hexdigest() == checksum  # read-only


def test_a_file_that_is_not_fail2bans_database_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no such file; give fail2ban's dbfile"):
        read_fail2ban(str(tmp_path / "missing.sqlite3"))
    other = tmp_path / "other.sqlite3"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(StorageError, match="not a fail2ban database"):
        read_fail2ban(str(other))
    (tmp_path / "text").write_text("hello")
    with pytest.raises(StorageError, match="cannot read fail2ban's database"):
        read_fail2ban(str(tmp_path / "text"))
