"""A fail2ban filter file resolved into its regexes and settings, as fail2ban's reader does."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from floodwall.config.fail2ban_ini import ConfigSet, MissingOption, read_config
from floodwall.errors import ConfigError
from floodwall.settings.filters import FilterDefinition

DEFINITION = "Definition"
INIT = "Init"
FILTER_OPTIONS = ("usedns", "prefregex", "ignoreregex", "failregex", "maxlines", "datepattern",
                  "journalmatch")
"""The options of [Definition] that make a filter."""
MAX_TAG_REPLACEMENTS = 25

_TAG = re.compile(r"<([^ <>]+)>")
_CONDITIONAL_NAME = re.compile(r"^(\w+)(\?.+)$")




def substitute_tags(values: Mapping[str, str], lookup: Callable[[str], str | None],
                    ignore: frozenset[str] = frozenset()) -> dict[str, str]:
    """Replace `<name>` in every value by the value named so (then by `lookup`), recursively.

    Unknown tags stay as they are: they are regex tags (<HOST>) or action tags.
    """
    tags = dict(values)
    done: set[str] = set()
    counts: dict[str, dict[str, int]] = {}
    repeat = True
    while repeat:
        repeat = False
        for name in list(tags):
            if name in ignore or name in done:
                continue
            original = value = tags[name]
            seen = counts.get(name, {})
            match = _TAG.search(value)
            while match:
                tag = match.group(1)
                if tag in ignore:
                    match = _TAG.search(value, match.end())
                    continue
                if tag == name or seen.get(tag, 1) > MAX_TAG_REPLACEMENTS:
                    raise ConfigError(f"option '{name}' refers to itself through <{tag}>; "
                                      f"break the loop", key=name)
                replacement = tags.get(tag)
                if replacement is None:
                    replacement = lookup(tag)
                if replacement is None:
                    match = _TAG.search(value, match.end())
                    continue
                value = value.replace(f"<{tag}>", replacement)
                seen[tag] = seen.get(tag, 0) + 1
                match = _TAG.search(value, match.start())
            if value != original:
                if _TAG.search(value):
                    counts[name] = seen
                    repeat = True
                tags[name] = value
            if "<" not in value:
                done.add(name)
    return tags


def _lines(value: str | None) -> tuple[str, ...]:
    return tuple(line for line in (value or "").split("\n") if line != "")


def _definition_options(config: ConfigSet, given: Mapping[str, str]) -> dict[str, str]:
    """[Definition]'s filter options not given by the caller, `%(x)s`-interpolated."""
    found: dict[str, str] = {}
    for name in FILTER_OPTIONS:
        if name in given:
            continue
        try:
            found[name] = config.get(DEFINITION, name, given)
        except MissingOption:
            continue
    return found


def init_options(config: ConfigSet, given: Mapping[str, str]) -> dict[str, str]:
    """Caller's options over [Init]'s; each [Init] value also kept as `known/<name>`."""
    options = dict(given)
    if INIT not in config.sections:
        return options
    for name in config.own_options(INIT):
        value = config.get(INIT, name)
        if not name.startswith("known/"):
            options["known/" + name] = value
        options.setdefault(name, value)
    return options




def load_filter(path: str, options: Mapping[str, str] | None = None) -> FilterDefinition:
    """Read filter file `path` with jail-style arguments `options` (`name[key=value]`)."""
    given = dict(options or {})
    config = read_config(path)
    combined = {**_definition_options(config, given), **init_options(config, given)}
    ignore = frozenset(match.group(1) for match in map(_CONDITIONAL_NAME.match, combined) if match)

    def lookup(tag: str) -> str | None:
        try:
            return config.get_ex(DEFINITION, tag, given)
        except MissingOption:
            return None

    resolved = substitute_tags(combined, lookup, ignore)
    maxlines_text = resolved.get("maxlines")
    try:
        maxlines = int(maxlines_text) if maxlines_text else 1
    except ValueError:
        raise ConfigError(f"maxlines must be a whole number, not {maxlines_text!r}",
                          path=path, key="maxlines") from None
    if maxlines < 1:
        raise ConfigError("maxlines must be 1 or more", path=path, key="maxlines")
    return FilterDefinition(
        path=path,
        failregex=_lines(resolved.get("failregex")),
        ignoreregex=_lines(resolved.get("ignoreregex")),
        prefregex=resolved.get("prefregex") or None,
        maxlines=maxlines,
        datepattern=resolved.get("datepattern"),
        journalmatch=_lines(resolved.get("journalmatch")),
        usedns=resolved.get("usedns"),
        options=resolved,
    )
