"""A native jail with its own failregex (filter = "regex"): fail2ban's tags and dates, the
address from <HOST> only, ignoreregex, the line deadline; a real daemon on a real log."""

from __future__ import annotations

import asyncio
from pathlib import Path

from floodwall.config.loader import load_config
from floodwall.server.daemon import Daemon
from tests.support.waiting import until

CONFIG = r"""
[floodwall]
state_dir = "{root}/state"
socket = "{root}/control.sock"
backend = "dry-run"
new_files_from = "start"

[jails.app]
logpath = ["{root}/app.log"]
filter = "regex"
failregex = ['app\[\d+\]: login failed for <F-USER>\S+</F-USER> from <HOST>$']
ignoreregex = ['for monitoring ']
maxretry = 2
findtime = "10m"
bantime = "1h"
"""


def _line(second: int, user: str, address: str) -> str:
    return f"Nov 22 04:00:{second:02d} web1 app[77]: login failed for {user} from {address}\n"


def test_a_regex_jail_bans_the_host_group_and_honours_ignoreregex(tmp_path: Path) -> None:
    (tmp_path / "floodwall.toml").write_text(CONFIG.format(root=tmp_path))
    log = tmp_path / "app.log"
    log.write_text(_line(1, "monitoring", "192.0.2.20") + _line(2, "monitoring", "192.0.2.20")
                   # an address written into the user name is not the source
                   + _line(3, "198.51.100.1", "192.0.2.21"))

    async def main() -> None:
        daemon = Daemon(load_config(tmp_path / "floodwall.toml"))
        await daemon.start()
        try:
            with log.open("a") as writer:
                writer.write(_line(4, "root", "192.0.2.21"))
            now = daemon.clock.now
            await until(lambda: daemon.bans.ledger.is_banned("app", "192.0.2.21", now()),
                        "the ban of 192.0.2.21", timeout=20.0)
            [ban] = daemon.bans.ledger.active()
            assert ban.key == "192.0.2.21" and ban.count == 2
            jail = daemon.pipeline.jails["app"]
            assert jail.failures_seen == 2  # the ignored lines counted for nothing
            assert not daemon.bans.ledger.is_banned("app", "198.51.100.1", now())
            assert "lines matching failregex" in ban.reason
        finally:
            await daemon.shutdown()

    asyncio.run(asyncio.wait_for(main(), timeout=60))
