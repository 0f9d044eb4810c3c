"""fail2ban's `%`-directives for date patterns and the conversion of their fields to unix time."""

from __future__ import annotations

import calendar
import datetime
import re
import time
from collections.abc import Mapping

from floodwall.errors import ConfigError

_TZ_ABBREVIATION = r"[A-Z](?:[A-Z]{2,4})?"
_FIXED_OFFSET_ZONE = re.compile(rf"({_TZ_ABBREVIATION})?([+-][01]\d(?::?\d{{2}})?)?$")


def _choice(name: str, words: list[str]) -> str:
    # Longest first so that `june` is not cut to `jun`; matched case-insensitively.
    ordered = sorted(words, key=len, reverse=True)
    return f"(?P<{name}>{'|'.join(map(re.escape, ordered))})"


_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december"]


def _year_prefixes() -> str:
    """Century-and-decade prefixes of the years a log may carry: 2000 up to three years ahead."""
    last = (datetime.date.today().year + 3) // 10
    return "|".join(str(decade) for decade in range(200, last + 1))


DIRECTIVES: dict[str, str] = {
    "a": _choice("a", [day[:3] for day in _WEEKDAYS]),
    "A": _choice("A", _WEEKDAYS),
    "b": _choice("b", [month[:3] for month in _MONTHS]),
    "B": _choice("B", _MONTHS),
    "d": r"(?P<d>[1-2]\d|[0 ]?[1-9]|3[0-1])",
    "f": r"(?P<f>[0-9]{1,6})",
    "H": r"(?P<H>[0-1]?\d|2[0-3])",
    "I": r"(?P<I>1[0-2]|0[1-9]|[1-9])",
    "j": r"(?P<j>36[0-6]|3[0-5]\d|[1-2]\d\d|0[1-9]\d|00[1-9]|[1-9]\d|0[1-9]|[1-9])",
    "k": r" ?(?P<H>[0-2]?\d)",
    "l": r" ?(?P<I>1?\d)",
    "m": r"(?P<m>0?[1-9]|1[0-2])",
    "M": r"(?P<M>[0-5]?\d)",
    "p": r"(?P<p>am|pm)",
    "S": r"(?P<S>[0-5]?\d|6[0-1])",
    "y": r"(?P<y>\d\d)",
    "Y": r"(?P<Y>\d{4})",
    "z": r"(?P<z>Z|UTC|GMT|[+-][01]\d(?::?\d{2})?)",
    "Z": r"(?P<Z>Z|[A-Z]{3,5})",
    "Exd": r"(?P<d>[1-2]\d|0[1-9]|3[0-1])",
    "Exm": r"(?P<m>0[1-9]|1[0-2])",
    "ExH": r"(?P<H>[0-1]\d|2[0-3])",
    "Exk": r" ?(?P<H>[0-1]?\d|2[0-3])",
    "Exl": r" ?(?P<I>1[0-2]|\d)",
    "ExM": r"(?P<M>[0-5]\d)",
    "ExS": r"(?P<S>[0-5]\d|6[0-1])",
    "ExY": rf"(?P<Y>(?:{_year_prefixes()})\d)",
    "Exy": r"(?P<y>\d{2})",
    "ExZ": rf"(?P<Z>{_TZ_ABBREVIATION})",
    "Exz": rf"(?P<z>(?:{_TZ_ABBREVIATION})?[+-][01]\d(?::?\d{{2}})?|{_TZ_ABBREVIATION})",
    "%": "%",
}
"""Regex for each `%X` directive (strptime's, narrowed, plus fail2ban's `%k`, `%l`, `%Ex*`)."""

_NAMES = {
    "a": "DAY", "A": "DAYNAME", "b": "MON", "B": "MONTH", "d": "Day", "H": "24hour",
    "I": "12hour", "j": "Yearday", "m": "Month", "M": "Minute", "p": "AMPM", "S": "Second",
    "y": "Year2", "Y": "Year", "%": "%", "z": "Zone offset", "f": "Microseconds",
    "Z": "Zone name",
}

_DIRECTIVE = re.compile("%({}|[{}])".format(
    "|".join(key for key in DIRECTIVES if len(key) > 1),
    "".join(key for key in DIRECTIVES if len(key) == 1)))
_TEXTUAL = re.compile(r"(?<!%)%[aAbBpc]")


def _display_name(key: str) -> str:
    if key in _NAMES:
        return _NAMES[key]
    if key.startswith("Ex") and key[2:] in _NAMES:
        return "Ex" + _NAMES[key[2:]]
    return "%" + key


def expand_directives(pattern: str) -> tuple[str, str]:
    """(regex, display name) for a date pattern: each `%X` becomes its regex or its name."""
    if "%" in _DIRECTIVE.sub("", pattern):
        raise ConfigError(f"date pattern {pattern!r} has an unknown %-directive or an unescaped "
                          f"'%'; write '%%' for a literal percent sign")
    regex = _DIRECTIVE.sub(lambda m: DIRECTIVES[m.group(1)], pattern)
    name = _DIRECTIVE.sub(lambda m: _display_name(m.group(1)), pattern)
    if _TEXTUAL.search(pattern):
        regex = "(?iu)" + regex
    return regex, name


_ZONE_OFFSETS_HOURS: dict[float, str] = {
    -12: "Y", -11: "X NUT SST", -10: "W CKT HAST HST TAHT TKT", -9: "V AKST GAMT GIT HADT HNY",
    -8: "U AKDT CIST HAY HNP PST PT", -7: "T HAP HNR MST PDT", -6: "S CST EAST GALT HAR HNC MDT",
    -5: "R CDT COT EASST ECT EST ET HAC HNE PET",
    -4: "Q AST BOT CLT COST EDT FKT GYT HAE HNA PYT",
    -3: "P ADT ART BRT CLST FKST GFT HAA PMST PYST SRT UYT WGT", -2: "O BRST FNT PMDT UYST WGST",
    -1: "N AZOT CVT EGT", 0: "Z EGST GMT UTC WET WT", 1: "A CET DFT WAT WEDT WEST",
    2: "B CAT CEDT CEST EET SAST WAST", 3: "C EAT EEDT EEST IDT MSK",
    4: "D AMT AZT GET GST KUYT MSD MUT RET SAMT SCT",
    5: "E AMST AQTT AZST HMT MAWT MVT PKT TFT TJT TMT UZT YEKT",
    6: "F ALMT BIOT BTT IOT KGT NOVT OMST YEKST", 7: "G CXT DAVT HOVT ICT KRAT NOVST OMSST THA WIB",
    8: "H ACT AWST BDT BNT CAST HKT IRKT KRAST MYT PHT SGT ULAT WITA WST",
    9: "I AWDT IRKST JST KST PWT TLT WDT WIT YAKT", 10: "K AEST ChST PGT VLAT YAKST YAPT",
    11: "L AEDT LHDT MAGT NCT PONT SBT VLAST VUT",
    12: "M ANAST ANAT FJT GILT MAGST MHT NZST PETST PETT TVT WFT", 13: "FJST NZDT",
    11.5: "NFT", 10.5: "ACDT LHST", 9.5: "ACST", 6.5: "CCT MMT", 5.75: "NPT", 5.5: "SLT",
    4.5: "AFT IRDT", 3.5: "IRST", -2.5: "HAT NDT", -3.5: "HNT NST NT", -4.5: "HLV VET",
    -9.5: "MART MIT",
}
ZONE_ABBREVIATIONS: dict[str, int] = {
    name: int(hours * 60) for hours, names in _ZONE_OFFSETS_HOURS.items() for name in names.split()
}
"""Fixed offsets in minutes of the zone abbreviations fail2ban understands (no DST switching)."""


def zone_offset(zone: str) -> int:
    """Minutes east of UTC for `UTC`, `+0200`, `-05:30`, `CEST`, `CET+01`…; ValueError if
    unknown."""
    if zone in ("Z", "UTC", "GMT"):
        return 0
    match = _FIXED_OFFSET_ZONE.match(zone)
    if match is None:
        raise ValueError(f"unknown time zone {zone!r}")
    name, offset = match.groups()
    base = ZONE_ABBREVIATIONS[name] if name else 0
    if not offset:
        return base
    if len(offset) <= 3:
        return base + int(offset) * 60
    sign = -1 if offset[0] == "-" else 1
    minutes = offset[4:6] if offset[3] == ":" else offset[3:5]
    return base + sign * (int(offset[1:3]) * 60 + int(minutes))


def completes_from_now(found: Mapping[str, str | None]) -> bool:
    """Whether the date lacks its year or its day, so that its time depends on "now"."""
    def given(*keys: str) -> bool:
        return any(found.get(key) is not None for key in keys)
    return not given("Y", "y") or not given("m", "b", "B", "d", "j")


# Over the complexity limit on purpose: one branch per strptime directive, as fail2ban
# resolves them (see below).
def fields_to_time(found: Mapping[str, str | None], now: float,  # noqa: C901
                   default_offset: int | None = None) -> float:
    """Unix time for the strptime fields of one date; missing year/day are taken from `now`.

    Raises ValueError (or LookupError) when the fields do not make a date.
    """
    # One function: the fields are resolved in fail2ban's order of precedence, each step
    # reading the ones before it; split up, those locals would travel in a state object on
    # the hot path of every dated line.
    year: int | None = None
    month: int | None = None
    day: int | None = None
    julian: int | None = None
    offset: int | None = None
    hour = minute = second = 0
    for key, value in found.items():
        if value is None:
            continue
        if key == "y":
            year = int(value)
            if year <= 2000:
                year += 2000
        elif key == "Y":
            year = int(value)
        elif key == "m":
            month = int(value)
        elif key == "B":
            month = _MONTHS.index(value.lower()) + 1
        elif key == "b":
            month = [m[:3] for m in _MONTHS].index(value.lower()) + 1
        elif key == "d":
            day = int(value)
        elif key == "H":
            hour = int(value)
        elif key == "I":
            hour = int(value)
            meridian = (found.get("p") or "").lower()
            if meridian in ("", "am") and hour == 12:
                hour = 0
            elif meridian == "pm" and hour != 12:
                hour += 12
        elif key == "M":
            minute = int(value)
        elif key == "S":
            second = int(value)
        elif key == "j":
            julian = int(value)
        elif key in ("z", "Z"):
            offset = zone_offset(value)
    current = datetime.datetime.fromtimestamp(now)
    assume_year = year is None
    if year is None:
        year = current.year
    if (month is None or day is None) and julian is not None:
        by_julian = datetime.date(year, 1, 1) + datetime.timedelta(days=julian - 1)
        year, month, day = by_julian.year, by_julian.month, by_julian.day
    assume_today = month is None and day is None
    if assume_today:
        month, day = current.month, current.day
    if month is None or day is None:
        raise ValueError("date has a day without a month (or the reverse)")
    result = datetime.datetime(year, month, day, hour, minute, second)
    if offset is None:
        offset = default_offset
    if offset is not None:
        result -= datetime.timedelta(minutes=offset)
    # Completion from `now` compares with local `now` even for zoned dates, as fail2ban does.
    if assume_today and result > current:
        result -= datetime.timedelta(days=1)
    if assume_year and result > current + datetime.timedelta(days=1):
        result = result.replace(year=year - 1, month=month, day=day)
    if offset is not None:
        return float(calendar.timegm(result.utctimetuple()))
    return time.mktime(result.timetuple())
