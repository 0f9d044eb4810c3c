"""The documented scoring: points per severity and the grade floors."""

from __future__ import annotations

import pytest

from floodwall.audit.grading import grade, score
from floodwall.audit.model import Finding, Severity


def findings(*severities: Severity) -> list[Finding]:
    return [Finding("X", severity, "m") for severity in severities]


def test_each_severity_costs_its_documented_points() -> None:
    assert score([]) == 100
    assert score(findings(Severity.INFO, Severity.INFO)) == 100
    assert score(findings(Severity.LOW)) == 95
    assert score(findings(Severity.MEDIUM)) == 85
    assert score(findings(Severity.HIGH)) == 75
    assert score(findings(Severity.HIGH, Severity.MEDIUM, Severity.LOW)) == 55


def test_score_never_goes_below_zero() -> None:
    assert score(findings(*[Severity.HIGH] * 5)) == 0


@pytest.mark.parametrize(("points", "letter"), [
    (100, "A+"), (99, "A"), (90, "A"), (89, "B"), (75, "B"), (74, "C"), (60, "C"),
    (59, "D"), (45, "D"), (44, "F"), (0, "F"),
])
def test_grade_floors(points: int, letter: str) -> None:
    assert grade(points) == letter
