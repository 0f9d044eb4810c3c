"""Tests of floodwall.toml loading: the reference example and errors naming file/line/key."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from floodwall.config.loader import load_config, parse_config
from floodwall.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "floodwall.toml"


def test_reference_example_loads_the_three_jails() -> None:
    config = load_config(EXAMPLE)
    jails = {j.name: j for j in config.jails}
    assert set(jails) == {"http-get-dos", "wordpress-bruteforce", "sshd"}
    dos = jails["http-get-dos"]
    assert (dos.maxretry, dos.findtime, dos.bantime) == (301, 300.0, 3600.0)
    assert dos.rule.methods == {"GET"} and dos.rule.statuses == {401, 403, 404, 503}
    assert dos.rule.path_not is not None and dos.rule.path_not.search("/robots.txt")
    assert not dos.rule.path_not.search("/robots.txt.bak")
    wp = jails["wordpress-bruteforce"]
    assert wp.rule.path is not None and wp.rule.path.search("/blog/wp-login.php")
    assert jails["sshd"].filter == "sshd" and jails["sshd"].ports == ("ssh",)
    assert ipaddress.ip_network("::1/128") in config.ignoreip


def _error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "site.toml")
    return caught.value


def test_unknown_key_names_file_line_key_and_suggests() -> None:
    error = _error('[jails.web]\nlogpath = ["/x"]\n\nmaxretyr = 3\n')
    assert (error.path, error.line) == ("site.toml", 4)
    assert "jails.web.maxretyr" in str(error) and "maxretry" in str(error)


@pytest.mark.parametrize("body, line, key, expected", [
    ('bantime = "1x"', 3, "bantime", "duration"),
    ('ignoreip = ["192.0.2.300"]', 3, "ignoreip", "not an address"),
    ('status = [999]', 3, "status", "HTTP statuses"),
    ('path = "([a-z"', 3, "path", "invalid regular expression"),
    ('maxretry = 0', 3, "maxretry", "at least 1"),
    ('ports = ["http", "x y"]', 3, "ports", "expected ports"),
    ('filter = "nope"', 3, "filter", "'access', 'sshd', 'regex'"),
])
def test_bad_values_name_their_line(body: str, line: int, key: str, expected: str) -> None:
    error = _error(f'[jails.web]\nlogpath = ["/x"]\n{body}\n')
    assert error.line == line and error.key == f"jails.web.{key}"
    assert expected in str(error)


def test_defaults_errors_point_at_the_defaults_table() -> None:
    error = _error('[defaults]\nfindtime = 0\n[jails.web]\nlogpath = "/x"\n')
    assert error.line == 2 and error.key == "defaults.findtime"


def test_syntax_error_and_missing_pieces() -> None:
    assert _error("[jails.web\n").line == 1
    assert "no jails" in str(_error("[defaults]\nmaxretry = 3\n"))
    assert "missing 'logpath'" in str(_error("[jails.web]\nmaxretry = 3\n"))
    assert "reserved" in str(_error('[jails.manual]\nlogpath = "/x"\n'))
    assert "<HOST>" in str(_error('[jails.x]\nlogpath="/x"\nfilter="regex"\nfailregex=["foo"]\n'))


def test_jail_ignoreip_adds_to_defaults_and_bantime_forms() -> None:
    config = parse_config('[defaults]\nignoreip = ["192.0.2.0/24"]\n'
                          '[jails.a]\nlogpath = "/x"\nignoreip = ["2001:db8::/32"]\n'
                          'bantime = -1\n[jails.b]\nlogpath = "/y"\nbantime = "1h30m"\n')
    a, b = config.jails
    assert [str(n) for n in a.ignoreip] == ["192.0.2.0/24", "2001:db8::/32"]
    assert a.bantime is None and b.bantime == 5400.0


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")


def test_key_limit_default_zero_and_bad_values() -> None:
    jail = '[jails.web]\nlogpath = ["/x"]\n'
    assert parse_config(jail, "site.toml").max_keys == 1_000_000
    assert parse_config("[floodwall]\nmax_keys = 0\n" + jail, "site.toml").max_keys is None
    assert parse_config("[floodwall]\nmax_keys = 5000\n" + jail, "site.toml").max_keys == 5000
    error = _error('[floodwall]\nmax_keys = "lots"\n' + jail)
    assert error.line == 2 and "max_keys" in str(error) and "0 = no limit" in str(error)


def test_line_timeout_default_zero_and_bad_values() -> None:
    jail = '[jails.web]\nlogpath = ["/x"]\n'
    assert parse_config(jail, "site.toml").line_timeout == 0.25
    assert parse_config("[floodwall]\nline_timeout = 0\n" + jail, "s.toml").line_timeout is None
    assert parse_config('[floodwall]\nline_timeout = "2s"\n' + jail, "s.toml").line_timeout == 2.0
    for bad in ('"soon"', "0.001", "-1"):
        error = _error(f"[floodwall]\nline_timeout = {bad}\n" + jail)
        assert error.line == 2 and "line_timeout" in str(error), bad


def test_regex_jails_check_their_regexes_where_they_are_written() -> None:
    head = '[jails.x]\nlogpath = "/x"\nfilter = "regex"\n'
    config = parse_config(head + "failregex = ['from <HOST>$']\nignoreregex = ['ok']\n", "s.toml")
    assert config.jails[0].failregex == ("from <HOST>$",) and config.jails[0].ignoreregex == ("ok",)
    broken = _error(head + "failregex = ['from <HOST> (unclosed']\n")
    assert broken.line == 4 and "invalid regex" in str(broken)
    misplaced = _error('[jails.x]\nlogpath = "/x"\nfailregex = ["from <HOST>"]\n')
    assert misplaced.line == 3 and 'filter = "regex"' in str(misplaced)
