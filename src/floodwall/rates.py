"""Rates as operators write them for throttling: "10/second", "100 kbytes/second"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

RateUnit = Literal["packets", "bytes", "kbytes", "mbytes"]
RatePeriod = Literal["second", "minute", "hour", "day", "week"]

_RATE = re.compile(
    r"(?P<amount>[0-9]{1,10})\s*(?P<unit>packets|bytes|kbytes|mbytes)?\s*/\s*"
    r"(?P<period>second|minute|hour|day|week)")
MAX_AMOUNT = 4_294_967_295
"""nftables keeps rates and bursts in 32 bits."""


@dataclass(frozen=True, slots=True)
class Rate:
    """A packet or byte budget per period, with an optional burst in the same unit."""

    amount: int
    """Packets (or bytes, kbytes, mbytes) allowed per period."""
    unit: RateUnit
    """What is counted."""
    period: RatePeriod
    """The period the amount refills over."""
    burst: int | None = None
    """Extra packets (or units of bytes) a source may send at once; None: nft's default."""

    def text(self) -> str:
        """The canonical spelling, e.g. "10/second" or "100 kbytes/second"."""
        unit = "" if self.unit == "packets" else f" {self.unit}"
        return f"{self.amount}{unit}/{self.period}"

    def nft(self) -> str:
        """The nft expression limiting to this rate: `limit rate over … [burst …]`."""
        burst = ""
        if self.burst is not None:
            burst = f" burst {self.burst} {self.unit}"
        return f"limit rate over {self.text()}{burst}"


def parse_rate(text: object, burst: object = None) -> Rate:
    """A Rate from text such as "10/second", "10 packets/minute" or "100 kbytes/second",
    and a burst (a whole number in the rate's unit); ValueError (TypeError for a value that
    is not text) naming what is expected."""
    if not isinstance(text, str):
        raise TypeError(f"expected a rate such as \"10/second\" or \"100 kbytes/second\", "
                         f"got {text!r}")
    found = _RATE.fullmatch(text.strip().lower())
    if found is None:
        raise ValueError(f"expected a rate such as \"10/second\", \"600/minute\" or "
                         f"\"100 kbytes/second\" (units: packets, bytes, kbytes, mbytes; "
                         f"periods: second, minute, hour, day, week), got {text!r}")
    amount = int(found["amount"])
    if not 1 <= amount <= MAX_AMOUNT:
        raise ValueError(f"rate {text!r}: the amount must be between 1 and {MAX_AMOUNT}")
    if burst is not None and (isinstance(burst, bool) or not isinstance(burst, int)
                              or not 1 <= burst <= MAX_AMOUNT):
        raise ValueError(f"burst: expected a whole number between 1 and {MAX_AMOUNT} "
                         f"(in the rate's unit), got {burst!r}")
    unit: RateUnit = found["unit"] or "packets"  # type: ignore[assignment]
    period: RatePeriod = found["period"]  # type: ignore[assignment]
    return Rate(amount, unit, period, burst)
