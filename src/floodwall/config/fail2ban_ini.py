"""Reading fail2ban configuration files as fail2ban does: overlays, includes, `%(x)s`."""

from __future__ import annotations

import configparser
import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from floodwall.errors import ConfigError

INCLUDES = "INCLUDES"
DEFAULT = "DEFAULT"
KNOWN_PREFIX = "KNOWN/"
MAX_INTERPOLATION_DEPTH = 10

# A section named like `Init?family=inet6` holds options that apply only under that condition.
_CONDITIONAL_SECTION = re.compile(r"^(\w+)(\?.+)$")
# `%(section/option)s` references another section's option (or `known/` the overridden one).
_SECTION_OPTION_REF = re.compile(r"%\(([\w\-]+)/([^)]+)\)s")
_SECTION_OPTION_NAME = re.compile(r"^([\w\-]+)/([^\s>]+)$")
_INTERPOLATION_KEY = re.compile(r"%\(([^)]+)\)s")


class MissingOption(LookupError):
    """An option (or its section) is not defined."""


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """One file's own sections, exactly as written (raw values, lower-case option names)."""

    path: str
    defaults: Mapping[str, str]
    sections: Mapping[str, Mapping[str, str]]


@functools.lru_cache(maxsize=512)
def _parse_cached(path: str, mtime_ns: int, size: int) -> ParsedFile:
    # The DEFAULT section is read as an ordinary section so each section keeps only its own
    # options; inheritance is applied by `ConfigSet.get`, after all files are merged.
    parser = configparser.ConfigParser(
        interpolation=None, inline_comment_prefixes=(";",), default_section="\x00none",
    )
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle, source=path)
    except configparser.Error as error:
        line = getattr(error, "lineno", None)
        raise ConfigError(f"cannot parse fail2ban config: {error.message}; fix the syntax",
                          path=path, line=line) from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"not UTF-8 ({error.reason}); re-encode the file as UTF-8",
                          path=path) from None
    sections = {name: dict(parser.items(name, raw=True)) for name in parser.sections()}
    defaults = sections.pop(DEFAULT, {})
    return ParsedFile(path, defaults, sections)


def parse_file(path: str) -> ParsedFile | None:
    """Parse one config file (cached while unchanged); None if it does not exist."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return _parse_cached(path, stat.st_mtime_ns, stat.st_size)


def _with_local_overlays(paths: list[str]) -> list[str]:
    """Each file followed by its `.local` twin when that exists and is not listed already."""
    expanded: list[str] = []
    for path in paths:
        expanded.append(path)
        local = os.path.splitext(path)[0] + ".local"
        if local not in paths and os.path.isfile(local):
            expanded.append(local)
    return expanded


def _include_order(paths: list[str], seen: tuple[str, ...]) -> list[str]:
    """The files to read for `paths`, with `[INCLUDES] before/after` around each, recursively."""
    ordered: list[str] = []
    for path in _with_local_overlays(paths):
        parsed = parse_file(path)
        if parsed is None:
            continue  # fail2ban silently ignores missing includes
        before: list[str] = []
        after: list[str] = []
        includes = parsed.sections.get(INCLUDES, {})
        for option, bucket in (("before", before), ("after", after)):
            value = (includes.get(option, parsed.defaults.get(option))
                     if INCLUDES in parsed.sections else None)
            if not value:
                continue
            for name in value.split("\n"):
                target = name if os.path.isabs(name) else os.path.join(os.path.dirname(path), name)
                if target in seen:
                    continue
                bucket.extend(_include_order([target], seen + (path,)))
        ordered.extend(before + [path] + after)
    return ordered


def overlay_files(conf_path: str) -> list[str]:
    """fail2ban's overlay list for `NAME.conf`: itself, `NAME.d/*.conf`, `NAME.local`,
    `NAME.d/*.local`."""
    base = conf_path.removesuffix(".conf")
    overlay_dir = Path(base + ".d")
    candidates = [base + ".conf"]
    candidates += sorted(str(p) for p in overlay_dir.glob("*.conf"))
    candidates.append(base + ".local")
    candidates += sorted(str(p) for p in overlay_dir.glob("*.local"))
    return [path for path in candidates if os.path.exists(path)]


@dataclass(slots=True)
class ConfigSet:
    """Merged sections of a fail2ban config file with its overlays and includes."""

    files: list[str] = field(default_factory=list)
    defaults: dict[str, str] = field(default_factory=dict)
    sections: dict[str, dict[str, str]] = field(default_factory=dict)

    def merge(self, parsed: ParsedFile) -> None:
        """Lay one file over the set; overridden values stay reachable as `known/<option>`."""
        self.files.append(parsed.path)
        self.defaults.update(parsed.defaults)
        for name, options in parsed.sections.items():
            conditional = _CONDITIONAL_SECTION.match(name)
            if conditional:
                name, condition = conditional.groups()
                options = {key + condition: value for key, value in options.items()}
            existing = self.sections.get(name)
            if existing is None:
                self.sections[name] = dict(options)
                continue
            known = self.sections.setdefault(KNOWN_PREFIX + name, {})
            known.update({key: value for key, value in existing.items() if key in options})
            existing.update(options)

    def own_options(self, section: str) -> list[str]:
        """Names of the options written in `section` itself (not inherited from DEFAULT)."""
        return list(self.sections.get(section, {}))

    def raw(self, section: str, option: str, extra: Mapping[str, str] | None = None) -> str:
        """The uninterpolated value: `extra`, then the section, then DEFAULT."""
        option = option.lower()
        if extra and option in extra:
            return extra[option]
        if section != DEFAULT:
            try:
                options = self.sections[section]
            except KeyError:
                raise MissingOption(f"no section [{section}]") from None
            if option in options:
                return options[option]
        if option in self.defaults:
            return self.defaults[option]
        raise MissingOption(f"no option '{option}' in [{section}]")

    def get(self, section: str, option: str, extra: Mapping[str, str] | None = None) -> str:
        """The value with `%(name)s` references expanded, as Python's ConfigParser does."""
        lowered = {key.lower(): value for key, value in (extra or {}).items()}
        return self._interpolate(section, option, self.raw(section, option, lowered), lowered, 1)

    def get_ex(self, section: str, option: str, extra: Mapping[str, str] | None = None) -> str:
        """Like `get`, but `sec/opt` names another section (`known/opt`: the overridden value)."""
        named = _SECTION_OPTION_NAME.search(option) if "/" in option else None
        if named:
            sec, opt = named.groups()
            if sec.lower() == "known":
                candidates = [KNOWN_PREFIX + section, section]
            else:
                candidates = [DEFAULT if sec.lower() == "default" else sec]
            for candidate in candidates:
                try:
                    return self.get(candidate, opt)
                except MissingOption:
                    continue
        return self.get(section, option, extra)

    def _section_reference(self, section: str, sec: str, opt: str) -> str | None:
        """Raw value of `%(sec/opt)s` seen from `section`, or None when there is none."""
        lowered = sec.lower()
        if lowered == "known":
            value = self.sections.get(KNOWN_PREFIX + section, {}).get(opt)
        elif lowered == "default":
            value = None
        else:
            if sec not in self.sections:
                return None
            value = self.sections[sec].get(opt)
        return value if value is not None else self.defaults.get(opt)

    def _interpolate(self, section: str, option: str, value: str, extra: dict[str, str],
                     depth: int) -> str:
        if depth > MAX_INTERPOLATION_DEPTH:
            raise ConfigError(f"interpolation of [{section}] {option} nests deeper than "
                              f"{MAX_INTERPOLATION_DEPTH}; look for a reference loop",
                              path=self._where(), key=option)
        out: list[str] = []
        rest = value
        while rest:
            at = rest.find("%")
            if at < 0:
                out.append(rest)
                break
            out.append(rest[:at])
            rest = rest[at:]
            follower = rest[1:2]
            if follower == "%":
                out.append("%")
                rest = rest[2:]
                continue
            match = _INTERPOLATION_KEY.match(rest) if follower == "(" else None
            if match is None:
                raise ConfigError(f"bad '%' in [{section}] {option}: write '%%' for a literal "
                                  f"percent sign or %(name)s for a reference: {rest[:30]!r}",
                                  path=self._where(), key=option)
            name = match.group(1).lower()
            rest = rest[match.end():]
            referenced = self._lookup(section, name, extra)
            if referenced is None:
                raise ConfigError(f"[{section}] {option} refers to %({name})s which is not "
                                  f"defined; define it or escape the '%'",
                                  path=self._where(), key=option)
            if "%" in referenced:
                out.append(self._interpolate(section, option, referenced, extra, depth + 1))
            else:
                out.append(referenced)
        return "".join(out)

    def _lookup(self, section: str, name: str, extra: dict[str, str]) -> str | None:
        try:
            return self.raw(section, name, extra)
        except MissingOption:
            pass
        ref = _SECTION_OPTION_NAME.match(name)
        if ref:
            return self._section_reference(section, *ref.groups())
        return None

    def _where(self) -> str | None:
        return self.files[0] if self.files else None


def read_config(conf_path: str) -> ConfigSet:
    """Read `conf_path` with its `.local`/`.d` overlays and includes into one merged set."""
    files = overlay_files(conf_path)
    if not files:
        raise ConfigError("no such fail2ban config file (nor a .local overlay); check the path",
                          path=conf_path)
    config = ConfigSet()
    for path in _include_order(files, ()):
        parsed = parse_file(path)
        if parsed is not None:
            config.merge(parsed)
    return config
