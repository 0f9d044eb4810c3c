"""The throttle action in floodwall.toml: action, rate and burst, with located errors."""

from __future__ import annotations

import pytest

from floodwall.config.loader import parse_config
from floodwall.errors import ConfigError

JAIL = '[jails.web]\nlogpath = ["/var/log/nginx/access.log"]\n'


def test_throttle_jail_reads_rate_and_burst_and_drop_is_the_default() -> None:
    config = parse_config('[defaults]\nrate = "600 / Minute"\n' + JAIL
                          + 'action = "throttle"\nburst = 20\n'
                          '[jails.ssh]\nlogpath = "/var/log/auth.log"\n', "fw.toml")
    web, ssh = config.jails
    assert (web.action, web.rate, web.burst) == ("throttle", "600/minute", 20)
    assert (ssh.action, ssh.rate, ssh.burst) == ("drop", None, None)


@pytest.mark.parametrize(("extra", "line", "key", "message"), [
    ('action = "throttle"\n', 3, "jails.web.action", "needs a rate per source"),
    ('action = "throttle"\nrate = "10 per second"\n', 4, "jails.web.rate",
     "expected a rate such as"),
    ('action = "throttle"\nrate = "10/second"\nburst = 0\n', 5, "jails.web.burst",
     "at least 1"),
    ('rate = "10/second"\n', 3, "jails.web.rate", "applies only to action = \"throttle\""),
    ('action = "reject"\n', 3, "jails.web.action", "expected one of 'drop', 'throttle'"),
])
def test_bad_throttle_settings_name_file_line_and_key(extra: str, line: int, key: str,
                                                       message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(JAIL + extra, "fw.toml")
    assert str(caught.value).startswith(f"fw.toml:{line}: key '{key}'")
    assert message in str(caught.value)
