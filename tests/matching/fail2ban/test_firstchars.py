"""Which characters can open a match of an anchored failregex."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from floodwall.clock import ManualClock
from floodwall.config.fail2ban_filters import load_filter
from floodwall.matching.fail2ban import Fail2banFilter
from floodwall.matching.fail2ban.firstchars import leading_chars


@pytest.mark.parametrize(("regex", "chars"), [
    (r"^Failed password for \S+", "F"),
    (r"^[aA]uthentication failure", "Aa"),
    (r"^(?:Invalid|illegal) user", "Ii"),
    (r"^(?P<nofail>pam_\w+)\(sshd\)", "p"),
    (r"^x?y", "xy"),
    (r"^(?=User)\w+", None),          # \w may be non-ASCII
    (r"^(?:(?=Us)User|Root) x", "RU"),
    (r"^Failed|^Invalid", "FI"),
    (r"\AUser x", "U"),
])
def test_anchored_regexes_open_with_known_characters(regex: str, chars: str | None) -> None:
    found = leading_chars(re.compile(regex))
    assert (None if found is None else "".join(sorted(found))) == chars


@pytest.mark.parametrize("regex", [
    r"Failed password",        # not anchored: may match anywhere
    r"^Failed|refused",        # one branch is not anchored
    r"(?m)^Failed",            # ^ holds after every newline
    r"(?i)^kelvin",            # K folds to the Kelvin sign
    r"^x*",                    # may match nothing
    r"^(?P<a>x)(?P=a)|^(?(a)y|z)",
])
def test_regexes_that_may_start_anywhere_or_with_anything_have_no_set(regex: str) -> None:
    assert leading_chars(re.compile(regex)) is None


def test_the_engine_tries_unanchored_regexes_on_every_line(tmp_path: Path) -> None:
    path = tmp_path / "f.conf"
    path.write_text("[Definition]\n"
                    "failregex = ^Failed password from <HOST>\n"
                    "            ^Invalid user \\S+ from <HOST>\n"
                    "            refused connect from <HOST>\n"
                    "            ^\\s*Failed twice from <HOST>\n")
    engine = Fail2banFilter(load_filter(str(path)), clock=ManualClock(1_780_000_000))
    lines = ["Failed password from 192.0.2.1", "Invalid user x from 192.0.2.2",
             "Failed: refused connect from 192.0.2.3", "  Failed twice from 192.0.2.4",
             "Accepted key from 192.0.2.5"]
    got = [(f.regex_index, f.host) for n, line in enumerate(lines, 1)
           for f in engine.feed(line, n)]
    assert got == [(0, "192.0.2.1"), (1, "192.0.2.2"), (2, "192.0.2.3"), (3, "192.0.2.4")]
    assert engine.stats.failregex_hits == [1, 1, 1, 1]
