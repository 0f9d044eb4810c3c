"""Longer bans for repeat offenders, with fail2ban's bantime.increment meaning."""

from __future__ import annotations

import random

from floodwall.settings.values import EscalationConfig

MAX_DOUBLINGS = 20
"""The default growth doubles per previous ban, at most this many times (as fail2ban)."""


def escalated_bantime(config: EscalationConfig, base: float | None, previous: int,
                      rng: random.Random) -> float | None:
    """The ban length for an address banned `previous` times before (None = permanent).

    First offences (previous = 0) and permanent bans keep the base time. Otherwise:
    multipliers if given (Time × factor × multipliers[Count], the last one repeating), else
    the formula if given (never below Time), else Time × 2**Count × factor; then capped at
    maxtime, then up to rndtime random seconds added.
    """
    if base is None or not config.increment or previous <= 0:
        return base
    if config.multipliers:
        multiplier = config.multipliers[min(previous, len(config.multipliers) - 1)]
        seconds = base * config.factor * multiplier
    elif config.formula is not None:
        seconds = max(base, config.formula(base, previous, config.factor))
    else:
        seconds = base * (1 << min(previous, MAX_DOUBLINGS)) * config.factor
    if config.maxtime is not None:
        seconds = min(seconds, config.maxtime)
    if config.rndtime:
        seconds += rng.random() * config.rndtime
    return seconds
