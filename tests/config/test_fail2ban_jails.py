"""Reading a real fail2ban configuration (Debian's) as fail2ban-client reads it."""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from pathlib import Path

import pytest

from floodwall.config.fail2ban_jails import logpath_files, read_fail2ban
from floodwall.config.fail2ban_values import to_seconds
from floodwall.config.loader import load_config, parse_config
from floodwall.errors import ConfigError
from tests.support.fail2ban_dir import client_dump, copy_config, skip_reason

REASON = skip_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"LOUD SKIP: {REASON}")

JAIL_LOCAL = """
[DEFAULT]
bantime = 2h
findtime = 15m
maxretry = 4
banaction = nftables-multiport
banaction_allports = nftables-allports
ignoreip = 127.0.0.1/8 ::1 203.0.113.0/24

[sshd]
enabled = true
port = 2222
logpath = {logs}/auth.log

[apache-auth]
enabled = true
logpath = {logs}/apache/*error.log
          {logs}/apache2/other_error.log

[nginx-http-auth]
enabled = true
logpath = {logs}/nginx/error.log
bantime = -1

[postfix]
enabled = true
mode = aggressive
logpath = {logs}/mail.log
action = %(action_mw)s

[recidive]
enabled = true
logpath = {logs}/fail2ban.log
"""

EXTRA = {
    # jail.d/*.conf come before jail.local, jail.d/*.local after it.
    "jail.d/custom.conf": "[postfix]\nfindtime = 30m\nmaxretry = 9\n",
    "jail.d/zz-site.local": ("[sshd]\nmaxretry = 2\nignorecommand = /usr/bin/false <ip>\n"
                             'ignorecache = key="<ip>", max-count=50, max-time=2m\n'
                             "[nginx-http-auth]\nfindtime = 1h\n"
                             # a jail extends its filter's failregex, as fail2ban's docs show
                             "failregex = %(known/failregex)s\n"
                             "            ^floodwall test: denied <HOST>$\n"),
    "filter.d/apache-auth.local": "[Definition]\nignoreregex = ^client used wrong\n",
}


@pytest.fixture()
def fail2ban_dir(tmp_path: Path) -> Path:
    logs = tmp_path / "logs"
    for name in ("auth.log", "apache/site_error.log", "apache/b_error.log",
                 "apache2/other_error.log", "nginx/error.log", "mail.log", "fail2ban.log"):
        (logs / name).parent.mkdir(parents=True, exist_ok=True)
        (logs / name).write_text("")
    return copy_config(tmp_path / "fail2ban", JAIL_LOCAL.format(logs=logs), EXTRA)


def _client_jails(directory: Path) -> dict[str, dict[str, list[object]]]:
    """Per jail, each setting fail2ban-client would send (values of repeated ones listed)."""
    jails: dict[str, dict[str, list[object]]] = {}
    for command in client_dump(directory):
        if command[0] == "add":
            jails[str(command[1])] = defaultdict(list)
        elif command[0] in ("set", "multi-set") and str(command[1]) in jails:
            settings = jails[str(command[1])]
            name, values = str(command[2]), command[3:]
            if command[0] == "multi-set" and name != "action":
                values = list(values[0])  # type: ignore[arg-type]
            settings[name].extend(values)
    return jails


def test_understood_jails_equal_what_fail2ban_client_prints(fail2ban_dir: Path) -> None:
    expected = _client_jails(fail2ban_dir)
    setup = read_fail2ban(fail2ban_dir)
    ours = {jail.name: jail for jail in setup.jails}
    assert set(ours) == set(expected) == {"sshd", "apache-auth", "nginx-http-auth", "postfix",
                                          "recidive"}
    for name, settings in expected.items():
        jail = ours[name]
        assert list(jail.failregex) == settings["addfailregex"], name
        assert logpath_files(jail.logpath) == sorted(map(str, settings["addlogpath"][::2])), name
        assert jail.maxretry == settings["maxretry"][0], name
        assert jail.findtime == to_seconds(str(settings["findtime"][0])), name
        bantime = to_seconds(str(settings["bantime"][0]))
        assert jail.bantime == (None if bantime < 0 else bantime), name
        assert [action for action, _ in jail.actions] == settings["addaction"], name
        theirs = {ipaddress.ip_network(str(word), strict=False)
                  for word in settings["addignoreip"]}
        if jail.config is not None:
            assert theirs <= set(jail.config.ignoreip), name
    # The overrides took effect in fail2ban's order.
    assert ours["sshd"].maxretry == 2 and ours["postfix"].maxretry == 9  # section beats DEFAULT
    assert ours["postfix"].findtime == 1800 and ours["nginx-http-auth"].findtime == 3600
    assert ours["nginx-http-auth"].bantime is None
    sshd = ours["sshd"].config
    assert sshd is not None and [sshd.ignorecommand] == expected["sshd"]["ignorecommand"]
    assert expected["sshd"]["ignorecache"] == ['key="<ip>", max-count=50, max-time=2m']
    assert sshd.ignorecache == (50, 120.0)
    nginx = ours["nginx-http-auth"].failregex
    assert len(nginx) > 1 and nginx[-1] == "^floodwall test: denied <HOST>$"


def test_actions_map_to_native_firewall_or_commands(fail2ban_dir: Path) -> None:
    setup = read_fail2ban(fail2ban_dir)
    jails = {jail.name: jail for jail in setup.jails}
    sshd = jails["sshd"].config
    assert sshd is not None and sshd.filter == "fail2ban" and sshd.firewall
    assert (sshd.ports, sshd.protocol) == (("2222",), "tcp")
    postfix = jails["postfix"].config
    assert postfix is not None and postfix.ports == ("smtp", "465", "submission")
    assert [command.name for command in postfix.commands] == ["sendmail-whois"]
    assert postfix.commands[0].norestored  # Debian's sendmail-common.conf: no mail per restart
    assert dict(jails["postfix"].actions)["sendmail-whois"] == "command"
    # postfix[mode=aggressive] reached the filter: its prefregex has the ddos branch.
    assert postfix.fail2ban is not None and ("mode", "aggressive") in postfix.fail2ban.options
    # recidive runs as floodwall's own recidive rule, all ports.
    assert jails["recidive"].config is None
    assert setup.recidive is not None and setup.recidive.maxretry == 4
    assert setup.recidive.bantime == 7 * 86400


def test_config_dir_in_floodwall_toml_merges_jails_and_recidive(fail2ban_dir: Path,
                                                                tmp_path: Path) -> None:
    toml = tmp_path / "floodwall.toml"
    toml.write_text(f'[fail2ban]\nconfig_dir = "{fail2ban_dir}"\n\n'
                    '[jails.web]\nlogpath = ["/var/www/*/access.log"]\nstatus = [404]\n')
    config = load_config(toml)
    assert [jail.name for jail in config.jails] == ["web", "sshd", "apache-auth",
                                                     "nginx-http-auth", "postfix"]
    assert config.fail2ban_dir == str(fail2ban_dir)
    assert config.recidive.enabled and config.recidive.findtime == 86400


def test_jail_defined_twice_is_a_located_error(fail2ban_dir: Path) -> None:
    text = f'[fail2ban]\nconfig_dir = "{fail2ban_dir}"\n\n[jails.sshd]\nlogpath = "/x.log"\n'
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "site.toml")
    assert caught.value.line == 4 and "jail 'sshd' is defined here and by the fail2ban" in str(
        caught.value)


def test_missing_config_dir_is_a_located_error(tmp_path: Path) -> None:
    text = f'[floodwall]\nbackend = "dry-run"\n[fail2ban]\nconfig_dir = "{tmp_path}/none"\n'
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "site.toml")
    assert (caught.value.path, caught.value.line, caught.value.key) == (
        "site.toml", 4, "fail2ban.config_dir")


def test_journal_backend_reads_the_filters_journalmatch(fail2ban_dir: Path) -> None:
    (fail2ban_dir / "jail.d" / "journal.local").write_text(
        "[sshd]\nbackend = systemd[journalpath=/run/log/journal/x, journalflags=6]\n")
    sshd = {jail.name: jail for jail in read_fail2ban(fail2ban_dir).jails}["sshd"]
    assert sshd.config is not None and sshd.config.enabled
    journal = sshd.config.journal
    assert journal is not None and sshd.config.logpath == ()
    assert journal.matches == ("_SYSTEMD_UNIT=sshd.service", "+", "_COMM=sshd")
    assert journal.directory == "/run/log/journal/x" and journal.files == ()
    # the filter runs in journal mode (fail2ban's logtype = journal)
    assert sshd.config.fail2ban is not None
    assert dict(sshd.config.fail2ban.options)["logtype"] == "journal"
    assert journal.system and not journal.user  # 6 = runtime only (noted) + system
    [note] = [note for note in sshd.notes if "RUNTIME_ONLY" in note.message]
    assert (note.path, note.line) == (str(fail2ban_dir / "jail.d" / "journal.local"), 2)


@pytest.mark.parametrize(("backend", "system", "user"), [
    ("systemd", True, False),  # fail2ban's default: the system journal only
    ("systemd[journalpath=/j]", False, False),  # a path: every journal file in it
    ("systemd[journalflags=12, namespace=web]", True, True)])
def test_journal_flags_choose_the_journals(fail2ban_dir: Path, backend: str, system: bool,
                                           user: bool) -> None:
    (fail2ban_dir / "jail.d" / "journal.local").write_text(f"[sshd]\nbackend = {backend}\n")
    sshd = {jail.name: jail for jail in read_fail2ban(fail2ban_dir).jails}["sshd"]
    assert sshd.config is not None and sshd.config.journal is not None
    assert (sshd.config.journal.system, sshd.config.journal.user) == (system, user)
    assert sshd.config.journal.namespace == ("web" if "namespace" in backend else None)


def test_bad_journalflags_are_a_located_error(fail2ban_dir: Path) -> None:
    (fail2ban_dir / "jail.d" / "journal.local").write_text(
        "[sshd]\nbackend = systemd[journalflags=32]\n")
    with pytest.raises(ConfigError) as caught:
        read_fail2ban(fail2ban_dir)
    assert "4 (system)" in str(caught.value) and caught.value.line == 2


def test_a_journalmatch_that_is_not_a_match_is_refused(fail2ban_dir: Path) -> None:
    (fail2ban_dir / "jail.d" / "journal.local").write_text(
        "[sshd]\nbackend = systemd\njournalmatch = --directory=/etc\n")
    with pytest.raises(ConfigError) as caught:
        read_fail2ban(fail2ban_dir)
    assert "is not FIELD=value" in str(caught.value)
    assert caught.value.path == str(fail2ban_dir / "jail.d" / "journal.local")


@pytest.mark.parametrize(("option", "value", "said"), [
    ("ignorecache", "max-count=5", 'key="<ip>"'),  # a cache keyed by nothing
    ("findtime", "0", "above zero"),  # a window that holds no failure
])
def test_a_bad_jail_option_is_a_located_error(fail2ban_dir: Path, option: str, value: str,
                                              said: str) -> None:
    (fail2ban_dir / "jail.d" / "zzz-bad.local").write_text(f"[sshd]\n{option} = {value}\n")
    with pytest.raises(ConfigError) as caught:
        read_fail2ban(fail2ban_dir)
    assert caught.value.key == option and said in str(caught.value)
    assert str(caught.value.path).endswith("jail.d/zzz-bad.local") and caught.value.line == 2
