"""Port items as operators write them: numbers, ranges both ways of writing, service names."""

from __future__ import annotations

import pytest

from floodwall.settings.ports import port_ranges


def test_numbers_ranges_and_service_names() -> None:
    assert port_ranges(["80", "8000-8080", "9000:9001", " ssh "]) == (
        (80, 80), (8000, 8080), (9000, 9001), (22, 22))
    assert port_ranges(["domain"], "all") == ((53, 53),)
    assert port_ranges([]) == ()


@pytest.mark.parametrize(("item", "message"), [
    ("0", "outside 1-65535"),
    ("70000", "outside 1-65535"),
    ("90-80", "runs backwards; write it as 80-90"),
    ("no-such-service", "neither a number, a range nor a known tcp service name"),
])
def test_bad_items_say_what_to_fix(item: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        port_ranges([item])
