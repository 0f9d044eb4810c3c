"""Time zones for the fail2ban tests: local time decides what a date without zone means."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.matching.fail2ban import f2b_samples as samples


@pytest.fixture()
def utc() -> Iterator[None]:
    """UTC for the duration of a test."""
    with samples.fail2ban_timezone("UTC"):
        yield


@pytest.fixture()
def f2b_timezone() -> Iterator[None]:
    """fail2ban's test time zone for the duration of a test."""
    with samples.fail2ban_timezone():
        yield
