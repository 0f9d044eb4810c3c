"""Rates for the throttle action: parsing, canonical text, nft expression."""

from __future__ import annotations

import pytest

from floodwall.rates import Rate, parse_rate


def test_rates_parse_to_canonical_text_and_nft() -> None:
    assert parse_rate("10/second") == Rate(10, "packets", "second")
    assert parse_rate(" 10 packets / Minute ").text() == "10/minute"
    rate = parse_rate("100 kbytes/second", 200)
    assert rate.text() == "100 kbytes/second"
    assert rate.nft() == "limit rate over 100 kbytes/second burst 200 kbytes"
    assert parse_rate("5/second", 3).nft() == "limit rate over 5/second burst 3 packets"


@pytest.mark.parametrize("text", ["", "10", "10/sec", "-1/second", "0/second",
                                  "99999999999/second", "10 gbytes/second",
                                  "10/second; drop", "10/sec ond", "10/second\n}", 10])
def test_anything_else_is_refused(text: object) -> None:
    with pytest.raises((ValueError, TypeError), match="rate"):
        parse_rate(text)


@pytest.mark.parametrize("burst", [0, -1, True, 1.5, "5", 2**32])
def test_burst_must_be_a_positive_whole_number(burst: object) -> None:
    with pytest.raises(ValueError, match="burst"):
        parse_rate("10/second", burst)
