"""Reading fail2ban config files: overlays, includes, known/ values, %(x)s interpolation."""

from __future__ import annotations

from pathlib import Path

import pytest

from floodwall.config.fail2ban_ini import MissingOption, overlay_files, read_config
from floodwall.errors import ConfigError


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_local_overlay_and_d_folder_are_read_in_fail2ban_order(tmp_path: Path) -> None:
    conf = _write(tmp_path / "filter.d" / "web.conf", "[Definition]\nfailregex = from-conf\n")
    _write(tmp_path / "filter.d" / "web.d" / "b.conf", "[Definition]\nfailregex = from-d-conf\n")
    _write(tmp_path / "filter.d" / "web.local",
           "[Definition]\nfailregex = %(known/failregex)s and-local\n")
    assert [Path(p).name for p in overlay_files(str(conf))] == ["web.conf", "b.conf", "web.local"]
    config = read_config(str(conf))
    # .local wins, and can reach the value it replaced through known/
    assert config.get("Definition", "failregex") == "from-d-conf and-local"


def test_includes_before_and_after_relative_to_including_file(tmp_path: Path) -> None:
    _write(tmp_path / "filter.d" / "common.conf",
           "[DEFAULT]\nprefix = ^host\\s\nsuffix = common\n")
    _write(tmp_path / "filter.d" / "late.conf", "[DEFAULT]\nsuffix = late\n")
    conf = _write(tmp_path / "filter.d" / "app.conf",
                  "[INCLUDES]\nbefore = common.conf\n  missing.conf\nafter = late.conf\n"
                  "[DEFAULT]\nsuffix = own\n"
                  "[Definition]\nfailregex = %(prefix)sfail <HOST> %(suffix)s\n")
    config = read_config(str(conf))
    # the after-include is read last, so its DEFAULT wins; the missing include is ignored
    assert config.get("Definition", "failregex") == "^host\\sfail <HOST> late"
    assert [Path(p).name for p in config.files] == ["common.conf", "app.conf", "late.conf"]


def test_section_references_extra_values_and_percent_escapes(tmp_path: Path) -> None:
    conf = _write(tmp_path / "x.conf",
                  "[lt_file]\ndatepattern = {^LN-BEG}\n"
                  "[Definition]\ndatepattern = %(lt_file/datepattern)s\n"
                  "rate = 100%%\nmode = normal\nmsg = mode is %(mode)s ; trailing comment\n")
    config = read_config(str(conf))
    assert config.get("Definition", "datepattern") == "{^LN-BEG}"
    assert config.get("Definition", "rate") == "100%"
    assert config.get("Definition", "msg") == "mode is normal"
    assert config.get("Definition", "msg", {"MODE": "aggressive"}) == "mode is aggressive"
    with pytest.raises(MissingOption):
        config.get("Definition", "absent")
    with pytest.raises(MissingOption):
        config.get("Nowhere", "msg")


def test_bad_percent_and_missing_reference_name_the_file(tmp_path: Path) -> None:
    conf = _write(tmp_path / "bad.conf", "[Definition]\na = 50% off\nb = %(nothing)s\n")
    config = read_config(str(conf))
    with pytest.raises(ConfigError, match=r"bad\.conf.*%%"):
        config.get("Definition", "a")
    with pytest.raises(ConfigError, match=r"nothing"):
        config.get("Definition", "b")


def test_syntax_error_and_absent_file_are_config_errors(tmp_path: Path) -> None:
    broken = _write(tmp_path / "broken.conf", "no section header here\n")
    with pytest.raises(ConfigError, match="broken.conf"):
        read_config(str(broken))
    with pytest.raises(ConfigError, match="absent.conf"):
        read_config(str(tmp_path / "absent.conf"))
