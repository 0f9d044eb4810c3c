"""Date templates, date completion from "now", and template reordering by hits."""

from __future__ import annotations

import datetime

import pytest

from floodwall.errors import ConfigError
from floodwall.matching.fail2ban.dates import DateDetector, Kind, templates_for
from floodwall.matching.fail2ban.strptime import fields_to_time, zone_offset

NOW = 1124013600.0  # 2005-08-14 12:00:00 CEST


pytestmark = pytest.mark.usefixtures("utc")


def _utc(*parts: int) -> float:
    return datetime.datetime(*parts, tzinfo=datetime.UTC).timestamp()


def _date(detector: DateDetector, line: str) -> tuple[str, float | None]:
    found = detector.find(line)
    assert found is not None, f"no date in {line!r}"
    return line[found.start:found.end], detector.to_time(found, NOW)


def test_syslog_date_takes_year_from_now_and_rolls_back_after_now() -> None:
    detector = DateDetector()
    assert _date(detector, "Jan 23 21:59:59 host sshd[1]: x") == (
        "Jan 23 21:59:59", _utc(2005, 1, 23, 21, 59, 59))
    # later in the year than "now" (+1 day of slack): must be last year
    assert _date(detector, "Dec 31 10:00:00 host x")[1] == _utc(2004, 12, 31, 10)


def test_iso_date_with_zone_is_honoured() -> None:
    detector = DateDetector()
    assert _date(detector, "2005-01-23T21:59:59+0200 x") == (
        "2005-01-23T21:59:59+0200", _utc(2005, 1, 23, 19, 59, 59))


def test_epoch_and_tai64n_templates() -> None:
    assert _date(DateDetector("EPOCH"), "1124013600.123 msg")[1] == pytest.approx(1124013600.123)
    assert _date(DateDetector("LEPOCH"), "1124013600123 msg")[1] == pytest.approx(1124013600.123)
    tai = DateDetector("TAI64N")
    text, when = _date(tai, "@4000000043002c0a00000000 msg")
    assert text.startswith("@4000") and when == 0x43002C0A


def test_explicit_pattern_with_line_begin_anchor() -> None:
    detector = DateDetector("{^LN-BEG}%%Y:%%m:%%d-%%H:%%M:%%S".replace("%%", "%"))
    assert _date(detector, "2005:08:14-11:00:00 x")[1] == _utc(2005, 8, 14, 11)
    assert detector.find("prefix 2005:08:14-11:00:00 x") is None


def test_date_placeholder_wraps_every_default_template() -> None:
    detector = DateDetector(r"^[^\[]*\[({DATE})")
    text, when = _date(detector, "client [Sun Jan 23 21:59:59 2005] [error] x")
    assert text == "Sun Jan 23 21:59:59 2005"
    assert when == _utc(2005, 1, 23, 21, 59, 59)
    assert all(t.kind in (Kind.FIELDS, Kind.EPOCH, Kind.TAI64N) for t in templates_for("{DATE}"))


def test_winning_template_moves_to_the_front() -> None:
    detector = DateDetector()
    first = detector.templates[0]
    for _ in range(3):
        _date(detector, "@4000000043002c0a00000000 msg")
    assert detector.templates[0].kind is Kind.TAI64N
    assert detector.templates[0] != first
    assert {t.name: hits for t, hits in detector.hits()}[detector.templates[0].name] == 3


def test_invalid_patterns_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="%-directive"):
        DateDetector("%Q")
    with pytest.raises(ConfigError, match="twice"):
        DateDetector("%H:%M:%S\n%H:%M:%S")


def test_field_conversion_rules() -> None:
    assert fields_to_time({"y": "05", "m": "08", "d": "1", "H": "3"}, NOW) == _utc(2005, 8, 1, 3)
    assert fields_to_time({"I": "12", "p": "AM", "M": "5"}, NOW) == _utc(2005, 8, 14, 0, 5)
    assert fields_to_time({"H": "23"}, NOW) == _utc(2005, 8, 13, 23)  # before now: yesterday
    assert fields_to_time({"Y": "2005", "j": "32"}, NOW) == _utc(2005, 2, 1)
    assert zone_offset("CEST") == 120 and zone_offset("-05:30") == -330
    with pytest.raises(ValueError):
        fields_to_time({"Y": "2005", "m": "2", "d": "30"}, NOW)


def test_remembered_conversions_still_follow_now_for_dates_without_year() -> None:
    detector = DateDetector()
    found = detector.find("Aug 20 10:00:00 host x")
    assert found is not None
    assert detector.to_time(found, NOW) == _utc(2004, 8, 20, 10)  # after now+1d: last year
    later = _utc(2005, 9, 1)
    assert detector.to_time(found, later) == _utc(2005, 8, 20, 10)
    assert detector.to_time(found, NOW) == _utc(2004, 8, 20, 10)


def test_remembered_conversions_equal_fresh_ones_as_now_moves_across_days_and_years() -> None:
    import random

    rng = random.Random(7)
    detector = DateDetector()
    texts = ["Dec 31 23:59:30", "Jan  1 00:00:10", "Dec 30 12:00:00", "Jan  2 08:15:00",
             "Feb 29 10:00:00", "Jun 15 18:30:45"]
    now = _utc(2004, 12, 28)
    for _ in range(3000):  # ~13 days in small, random steps around a new year
        now += rng.choice((0.4, 7.0, 61.0, 3601.0, 400.0))
        text = rng.choice(texts)
        found = detector.find(f"{text} host sshd[1]: x")
        assert found is not None
        fields = found.match.groupdict()
        try:
            fresh: float | None = fields_to_time(fields, now)
        except ValueError:
            fresh = None  # Feb 29 in a year without it
        assert detector.to_time(found, now) == fresh, (text, now)
