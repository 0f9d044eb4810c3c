"""Web server access-log lines split into fields by the server's own log format.

Each Apache `LogFormat` or nginx `log_format` is compiled into one anchored regex. The
request line, user, referer and user agent are written by the attacker, so every field
pattern is chosen so that no value can move another field: quoted fields accept only
escaped quotes (Apache writes `\\"`, nginx `\\x22`), the client must look like an address
or host name, and the only field allowed to contain spaces outside quotes (the user
name, which servers log with its spaces) cannot hold an unescaped quote and is only
allowed after the client.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass

from floodwall.errors import ConfigError
from floodwall.matching.dates import parse_clf_time, parse_iso_time


@dataclass(frozen=True, slots=True)
class AccessRecord:
    """One access-log line split into fields; values are as written (still log-escaped)."""

    client: str
    """The client address field (`%h`/`%a`/`$remote_addr`) and nothing else."""
    time: float
    """Unix time of the request."""
    method: str
    """Request method; "" when the request line is malformed (`-`, TLS bytes, junk)."""
    target: str
    """Request target as written (path and query); "" when the request line is malformed."""
    path: str
    """The target without its query string."""
    protocol: str
    """`HTTP/1.1` and the like; "" when the request line has none."""
    status: int
    """Final response status."""
    size: int | None
    """Response body bytes (total bytes sent when the format only has that); None for `-`."""
    referer: str | None
    """Referer header, None when absent (`-`) or not in the format."""
    user_agent: str | None
    """User-Agent header, None when absent (`-`) or not in the format."""
    vhost: str | None
    """Virtual host (`%V`/`%v`/`$host`/`$server_name`), None when not in the format."""
    user: str | None
    """Authenticated (or attempted) user name, None for `-` or when not in the format."""


class _Kind(enum.Enum):
    """What a field of a log format holds, which decides its pattern and its use."""

    CLIENT = enum.auto()
    USER = enum.auto()
    TIME_CLF = enum.auto()
    TIME_ISO = enum.auto()
    TIME_MSEC = enum.auto()
    REQUEST = enum.auto()
    STATUS = enum.auto()
    SIZE_BODY = enum.auto()
    SIZE_TOTAL = enum.auto()
    REFERER = enum.auto()
    USER_AGENT = enum.auto()
    VHOST = enum.auto()
    VHOST_CANONICAL = enum.auto()
    NUMBER = enum.auto()
    UPSTREAM = enum.auto()
    TOKEN = enum.auto()


@dataclass(frozen=True, slots=True)
class _Field:
    """One directive or variable of a format, as written (for messages)."""

    kind: _Kind
    spelling: str


_Part = str | _Field

# Patterns of fields whose values the server itself writes; none of them can hold a quote
# or a space, so none can be confused with a neighbour.
_FIXED_PATTERNS: dict[_Kind, str] = {
    # An IPv4 address or host name (no colon), or an IPv6 address (two colons or more).
    _Kind.CLIENT: r"[\w.-]+|[0-9A-Fa-f.]*(?::[0-9A-Fa-f.]*){2,8}(?:%[\w.-]+)?",
    _Kind.TIME_CLF: r"[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}",
    _Kind.TIME_ISO: r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
                    r"(?:Z|[+-][0-9]{2}:[0-9]{2})",
    _Kind.TIME_MSEC: r"[0-9]+(?:\.[0-9]+)?",
    _Kind.STATUS: r"[0-9]{3}",
    _Kind.SIZE_BODY: r"[0-9]+|-",
    _Kind.SIZE_TOTAL: r"[0-9]+|-",
    _Kind.NUMBER: r"[0-9]+(?:\.[0-9]+)?|-",
}
_QUOTED = r'[^"\\]*(?:\\.[^"\\]*)*'
"""Inside double quotes: anything but a quote, unless escaped (`\\"`)."""
_UPSTREAM = r"\S+(?:(?:, | : )\S+)*"
"""nginx `$upstream_*` lists: one value per upstream tried, `, ` and ` : ` between."""
_USER_WITH_SPACES = r'""|(?:[^"\\]|\\.)+?'
"""Servers log user names with their spaces (only quotes escaped), and Apache an empty one
as `""`: an empty Basic-auth user must not make a line unreadable."""
_MUST_BE_QUOTED = (_Kind.REQUEST, _Kind.USER_AGENT)
_TIME_PARSERS: dict[_Kind, Callable[[str], float | None]] = {
    _Kind.TIME_CLF: parse_clf_time,
    _Kind.TIME_ISO: parse_iso_time,
    _Kind.TIME_MSEC: float,
}
_METHOD = re.compile(r"[A-Z][A-Z0-9_-]*")
_COMMON_METHODS = frozenset(("GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"))
"""Checked before `_METHOD`: a set look-up is cheaper than a regex on every line."""

_APACHE_DIRECTIVE = re.compile(r"%([<>]?)(?:\{([^}]*)\})?(.?)")
_APACHE_KINDS: dict[str, _Kind] = {
    "h": _Kind.CLIENT, "a": _Kind.CLIENT, "l": _Kind.TOKEN, "u": _Kind.USER,
    "t": _Kind.TIME_CLF, "r": _Kind.REQUEST, "s": _Kind.STATUS,
    "b": _Kind.SIZE_BODY, "B": _Kind.SIZE_BODY, "O": _Kind.SIZE_TOTAL,
    "I": _Kind.NUMBER, "D": _Kind.NUMBER, "T": _Kind.NUMBER, "p": _Kind.NUMBER,
    "V": _Kind.VHOST, "v": _Kind.VHOST_CANONICAL,
    "i": _Kind.TOKEN, "o": _Kind.TOKEN, "e": _Kind.TOKEN,
}
_APACHE_HEADERS = {"referer": _Kind.REFERER, "user-agent": _Kind.USER_AGENT}
_APACHE_UNESCAPES = {'\\"': '"', "\\\\": "\\", "\\t": "\t"}

_NGINX_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))?", re.ASCII)
_NGINX_KINDS: dict[str, _Kind] = {
    "remote_addr": _Kind.CLIENT, "remote_user": _Kind.USER,
    "time_local": _Kind.TIME_CLF, "time_iso8601": _Kind.TIME_ISO, "msec": _Kind.TIME_MSEC,
    "request": _Kind.REQUEST, "status": _Kind.STATUS,
    "body_bytes_sent": _Kind.SIZE_BODY, "bytes_sent": _Kind.SIZE_TOTAL,
    "http_referer": _Kind.REFERER, "http_user_agent": _Kind.USER_AGENT,
    "host": _Kind.VHOST, "server_name": _Kind.VHOST_CANONICAL,
    "server_port": _Kind.NUMBER, "remote_port": _Kind.NUMBER, "request_time": _Kind.NUMBER,
    "request_length": _Kind.NUMBER, "connection": _Kind.NUMBER,
    "connection_requests": _Kind.NUMBER,
}


class AccessLogFormat:
    """A compiled access-log format that splits matching lines into `AccessRecord`s."""

    __slots__ = (
        "_client",
        "_last_time",
        "_match",
        "_parse_time",
        "_referer",
        "_request",
        "_size",
        "_status",
        "_time",
        "_user",
        "_user_agent",
        "_vhost",
        "name",
    )

    def __init__(self, name: str, source: str, parts: list[_Part]) -> None:
        self.name = name
        """Name of the format (a KNOWN_FORMATS key, or "custom")."""
        pattern, kinds = _compile(parts, source)
        self._match = re.compile(pattern, re.ASCII).fullmatch
        first = {kind: kinds.index(kind) if kind in kinds else -1 for kind in _Kind}
        times = [kind for kind in _TIME_PARSERS if first[kind] >= 0]
        missing = [label for label, present in (("client address", first[_Kind.CLIENT] >= 0),
                                                ("time", bool(times)),
                                                ("status", first[_Kind.STATUS] >= 0))
                   if not present]
        if missing:
            raise ConfigError(f"log format '{source}' has no {' or '.join(missing)} field; add "
                              "it (Apache: %h, %t, %>s; nginx: $remote_addr, $time_local, "
                              "$status)", key="log_format")
        time_kind = min(times, key=first.__getitem__)
        self._parse_time = _TIME_PARSERS[time_kind]
        self._time = first[time_kind]
        # Lines of a flood come many to a second: the last stamp's time is kept as a pair,
        # so that it is replaced in one assignment.
        self._last_time: tuple[str, float | None] = ("", None)
        self._client = first[_Kind.CLIENT]
        self._status = first[_Kind.STATUS]
        self._request = first[_Kind.REQUEST]
        self._size = first[_Kind.SIZE_BODY] if first[_Kind.SIZE_BODY] >= 0 \
            else first[_Kind.SIZE_TOTAL]
        self._vhost = first[_Kind.VHOST] if first[_Kind.VHOST] >= 0 \
            else first[_Kind.VHOST_CANONICAL]
        self._referer = first[_Kind.REFERER]
        self._user_agent = first[_Kind.USER_AGENT]
        self._user = first[_Kind.USER]

    @classmethod
    def apache(cls, fmt: str, name: str = "custom") -> AccessLogFormat:
        """Compile an Apache `LogFormat` string (`\\"` accepted as in the config file)."""
        return cls(name, fmt, _apache_parts(fmt))

    @classmethod
    def nginx(cls, fmt: str, name: str = "custom") -> AccessLogFormat:
        """Compile an nginx `log_format` string (the quoted pieces joined into one)."""
        return cls(name, fmt, _nginx_parts(fmt))

    def parse(self, line: str) -> AccessRecord | None:
        """The fields of `line`, or None if the line does not fit this format."""
        match = self._match(line)
        if match is None:
            return None
        groups = match.groups()
        stamp = groups[self._time]
        last_stamp, time = self._last_time
        if stamp != last_stamp:
            time = self._parse_time(stamp)
            self._last_time = (stamp, time)
        if time is None:
            return None
        method, target, protocol = _split_request(groups[self._request]) \
            if self._request >= 0 else ("", "", "")
        size = groups[self._size] if self._size >= 0 else "-"
        return AccessRecord(
            client=groups[self._client],
            time=time,
            method=method,
            target=target,
            path=target.partition("?")[0],
            protocol=protocol,
            status=int(groups[self._status]),
            size=None if size == "-" else int(size),
            referer=_dash_is_none(groups, self._referer),
            user_agent=_dash_is_none(groups, self._user_agent),
            vhost=groups[self._vhost] if self._vhost >= 0 else None,
            user=_user(groups, self._user),
        )

    def __repr__(self) -> str:
        return f"AccessLogFormat({self.name!r})"


def _dash_is_none(groups: tuple[str, ...], index: int) -> str | None:
    """The field at `index`, None when the format lacks it or the server wrote `-`."""
    if index < 0:
        return None
    value = groups[index]
    return None if value == "-" else value


def _user(groups: tuple[str, ...], index: int) -> str | None:
    """The user field: None for `-` or when the format lacks it, "" for Apache's `""`."""
    user = _dash_is_none(groups, index)
    return "" if user == '""' else user


def _split_request(request: str) -> tuple[str, str, str]:
    """(method, target, protocol) of a request line; all "" when it is not one."""
    method, space, rest = request.partition(" ")
    if not space or (method not in _COMMON_METHODS and _METHOD.fullmatch(method) is None):
        return "", "", ""
    target, space, protocol = rest.rpartition(" ")
    if not space or not protocol.startswith("HTTP/"):
        target, protocol = rest, ""
    if not target:
        return "", "", ""
    return method, target, protocol


def _compile(parts: list[_Part], source: str) -> tuple[str, list[_Kind]]:
    """One regex for the whole line, and the kind of each of its groups in order."""
    pieces: list[str] = []
    kinds: list[_Kind] = []
    user_may_have_spaces = False
    for index, part in enumerate(parts):
        if isinstance(part, str):
            pieces.append(re.escape(part))
            continue
        before = parts[index - 1] if index > 0 else ""
        after = parts[index + 1] if index + 1 < len(parts) else ""
        quoted = (isinstance(before, str) and before.endswith('"')
                  and isinstance(after, str) and after.startswith('"'))
        if part.kind in _MUST_BE_QUOTED and not quoted:
            raise ConfigError(f"{part.spelling} in log format '{source}' must be written "
                              "between double quotes, as in the combined format",
                              key="log_format")
        if part.kind in _FIXED_PATTERNS:
            pattern = _FIXED_PATTERNS[part.kind]
        elif quoted:
            pattern = _QUOTED
        elif part.kind is _Kind.UPSTREAM:
            pattern = _UPSTREAM
        elif part.kind is _Kind.USER and _Kind.CLIENT in kinds and not user_may_have_spaces:
            # Only after the client, and only once: then no user name can move the client.
            user_may_have_spaces = True
            pattern = _USER_WITH_SPACES
        else:
            pattern = _token_pattern(after if isinstance(after, str) else "")
        pieces.append(f"({pattern})")
        kinds.append(part.kind)
    return "".join(pieces), kinds


def _token_pattern(after: str) -> str:
    """A run of non-space characters that also stops at the literal text that follows."""
    if after and not after[0].isspace():
        return rf"[^\s{re.escape(after[0])}]+"
    return r"\S+"


def _apache_parts(fmt: str) -> list[_Part]:
    """Literal text and fields of an Apache LogFormat string."""
    parts: list[_Part] = []
    position = 0
    for match in _APACHE_DIRECTIVE.finditer(fmt):
        _append_literal(parts, _apache_unescape(fmt[position:match.start()]))
        position = match.end()
        _modifier, argument, letter = match.groups()
        if letter == "%" and argument is None:
            _append_literal(parts, "%")
            continue
        kind = _APACHE_KINDS.get(letter)
        if kind is None or (argument is not None and letter in "tlurs"):
            raise ConfigError(
                f"unsupported directive '{match.group(0)}' in Apache LogFormat '{fmt}'; supported: "
                "%h %a %l %u %t %r %>s %s %b %B %O %I %D %T %V %v %p %{Name}i %{Name}o "
                "%{Name}e %%", key="log_format")
        if letter == "i" and argument is not None:
            kind = _APACHE_HEADERS.get(argument.lower(), kind)
        if letter == "t":
            # Apache writes the brackets as part of %t.
            _append_literal(parts, "[")
            parts.append(_Field(kind, match.group(0)))
            _append_literal(parts, "]")
        else:
            parts.append(_Field(kind, match.group(0)))
    _append_literal(parts, _apache_unescape(fmt[position:]))
    return parts


def _apache_unescape(text: str) -> str:
    """Literal LogFormat text with the config file's backslash escapes undone."""
    return re.sub(r"\\[\"\\t]", lambda match: _APACHE_UNESCAPES[match.group(0)], text)


def _nginx_parts(fmt: str) -> list[_Part]:
    """Literal text and fields of an nginx log_format string."""
    parts: list[_Part] = []
    position = 0
    for match in _NGINX_VARIABLE.finditer(fmt):
        _append_literal(parts, fmt[position:match.start()])
        position = match.end()
        name = match.group(1) or match.group(2)
        if name is None:
            raise ConfigError(f"'$' without a variable name at offset {match.start()} of nginx "
                              f"log_format '{fmt}'; write a variable like $remote_addr",
                              key="log_format")
        kind = _NGINX_KINDS.get(name)
        if kind is None:
            kind = _Kind.UPSTREAM if name.startswith("upstream_") else _Kind.TOKEN
        parts.append(_Field(kind, match.group(0)))
    _append_literal(parts, fmt[position:])
    return parts


def _append_literal(parts: list[_Part], text: str) -> None:
    """Add literal text, merged with literal text just before it."""
    if not text:
        return
    if parts and isinstance(parts[-1], str):
        parts[-1] += text
    else:
        parts.append(text)


KNOWN_FORMATS: dict[str, AccessLogFormat] = {
    "common": AccessLogFormat.apache('%h %l %u %t "%r" %>s %b', "common"),
    "combined": AccessLogFormat.apache(
        '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"', "combined"),
    "vhost_combined": AccessLogFormat.apache(
        '%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"', "vhost_combined"),
    "hoster": AccessLogFormat.apache(
        '%h %l %u %t %I %O "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %V %p', "hoster"),
    "nginx_combined": AccessLogFormat.nginx(
        '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
        '"$http_referer" "$http_user_agent"', "nginx_combined"),
}
"""Formats known by name, as servers ship them (plus "hoster", ours)."""

_AUTO_ORDER = ("hoster", "vhost_combined", "combined", "nginx_combined", "common")
"""Most specific first, so a line with extra fields is never taken by a shorter format."""


class AutoAccessParser:
    """Parses lines of any known format, trying the format that fitted last first."""

    __slots__ = ("_formats", "_last")

    def __init__(self) -> None:
        self._formats = tuple(KNOWN_FORMATS[name] for name in _AUTO_ORDER)
        self._last = self._formats[0]

    def parse(self, line: str) -> AccessRecord | None:
        """The fields of `line` in the first known format that fits it, or None."""
        record = self._last.parse(line)
        if record is not None:
            return record
        for fmt in self._formats:
            if fmt is not self._last:
                record = fmt.parse(line)
                if record is not None:
                    self._last = fmt
                    return record
        return None


def request_reader() -> Callable[[str], tuple[str | None, str] | None]:
    """A reader of what an access line of any known format requests: (vhost, path), or None
    for a line that is not one (it learns the format the lines use, as AutoAccessParser)."""
    parser = AutoAccessParser()

    def read(line: str) -> tuple[str | None, str] | None:
        record = parser.parse(line)
        return None if record is None else (record.vhost, record.path)

    return read


def access_parser(spec: str, kind: str = "apache") -> AccessLogFormat | AutoAccessParser:
    """A parser for `spec`: "auto", a KNOWN_FORMATS name, or a format string of `kind`."""
    if spec == "auto":
        return AutoAccessParser()
    if spec in KNOWN_FORMATS:
        return KNOWN_FORMATS[spec]
    if kind == "apache":
        return AccessLogFormat.apache(spec)
    if kind == "nginx":
        return AccessLogFormat.nginx(spec)
    raise ConfigError(f"unknown access-log format kind '{kind}'; use 'apache' or 'nginx'",
                      key="format")
