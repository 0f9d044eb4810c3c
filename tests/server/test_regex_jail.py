"""A native jail with its own failregex (filter = "regex"): fail2ban's tags and dates, the
address from <HOST> only, ignoreregex; its lines fed to the daemon's ban path directly."""

from __future__ import annotations

from pathlib import Path

from tests.support.configs import load
from tests.support.daemons import fed_daemon
from tests.support.lines import T0, syslog_line


def _login_failed(seconds: int, user: str, address: str) -> str:
    return syslog_line("app", f"login failed for {user} from {address}", when=T0 + seconds)


def test_a_regex_jail_bans_the_host_group_and_honours_ignoreregex(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    config = load(tmp_path, {"app": {
        "logpath": [log], "filter": "regex",
        "failregex": [r"app\[\d+\]: login failed for <F-USER>\S+</F-USER> from <HOST>$"],
        "ignoreregex": ["for monitoring "], "maxretry": 2, "findtime": "10m", "bantime": "1h"}})
    with fed_daemon(config, start=T0 + 10) as fed:
        fed.feed(log, _login_failed(1, "monitoring", "192.0.2.20")
                 + _login_failed(2, "monitoring", "192.0.2.20")
                 # an address written into the user name is not the source
                 + _login_failed(3, "198.51.100.1", "192.0.2.21"))
        assert fed.daemon.bans.ledger.active() == []
        fed.feed(log, _login_failed(4, "root", "192.0.2.21"), first_line=4)
        [ban] = fed.daemon.bans.ledger.active()
        assert ban.key == "192.0.2.21" and ban.count == 2
        assert fed.banned("app") == ["192.0.2.21"]
        assert fed.daemon.pipeline.jails["app"].failures_seen == 2  # the ignored lines: none
        assert not fed.daemon.bans.ledger.is_banned("app", "198.51.100.1", fed.clock.now())
        assert "lines matching failregex" in ban.reason
