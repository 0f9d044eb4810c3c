"""Resolving a filter file: [Init] options, jail arguments, nested <tag> substitution."""

from __future__ import annotations

from pathlib import Path

import pytest

from floodwall.config.fail2ban_filters import load_filter, substitute_tags
from floodwall.errors import ConfigError

FILTER = """\
[INCLUDES]
before = base.conf

[Definition]
_daemon = myapp
failregex = ^<__prefix>login failed for <F-USER>\\S+</F-USER> from <HOST>$
            <mode_<mode>/extra>

ignoreregex = ^<__prefix>test user

[mode_normal]
extra =

[mode_aggressive]
extra = ^<__prefix>probe from <HOST>$

[Init]
mode = normal
maxlines = 1
"""
BASE = """\
[DEFAULT]
__prefix = <_daemon>\\[\\d+\\]:\\s
datepattern = {^LN-BEG}
"""


@pytest.fixture()
def filter_path(tmp_path: Path) -> str:
    (tmp_path / "base.conf").write_text(BASE)
    path = tmp_path / "myapp.conf"
    path.write_text(FILTER)
    return str(path)


def test_tags_resolve_recursively_and_init_supplies_defaults(filter_path: str) -> None:
    definition = load_filter(filter_path)
    assert definition.failregex == (
        r"^myapp\[\d+\]:\slogin failed for <F-USER>\S+</F-USER> from <HOST>$",)
    assert definition.ignoreregex == (r"^myapp\[\d+\]:\stest user",)
    assert definition.datepattern == "{^LN-BEG}"
    assert definition.options["known/mode"] == "normal"


def test_jail_arguments_win_over_init(filter_path: str) -> None:
    definition = load_filter(filter_path, {"mode": "aggressive", "maxlines": "3"})
    assert definition.failregex[1] == r"^myapp\[\d+\]:\sprobe from <HOST>$"
    assert definition.maxlines == 3
    assert definition.options["known/mode"] == "normal"


def test_invalid_maxlines_is_a_config_error(filter_path: str) -> None:
    with pytest.raises(ConfigError, match="maxlines"):
        load_filter(filter_path, {"maxlines": "many"})


def test_substitution_refuses_self_reference_and_keeps_unknown_tags() -> None:
    assert substitute_tags({"a": "<HOST> <b>", "b": "x"}, lambda _: None) == {
        "a": "<HOST> x", "b": "x"}
    with pytest.raises(ConfigError, match="itself"):
        substitute_tags({"a": "<a>"}, lambda _: None)
