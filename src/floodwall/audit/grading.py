"""Grades from findings, deterministic and documented.

A site starts with 100 points and loses, per finding:

    high    25   (e.g. no CSP, 'unsafe-inline' scripts, no HSTS on HTTPS, untrusted certificate)
    medium  15   (e.g. no X-Content-Type-Options, no X-Frame-Options/frame-ancestors,
                  CSP only report-only or without default-src, HSTS max-age under 180 days,
                  a cookie without Secure or HttpOnly)
    low      5   (e.g. no Referrer-Policy, Permissions-Policy or Cross-Origin-Opener-Policy,
                  a version in Server, X-Powered-By, plain HTTP, each security header missing
                  on error pages, HSTS without includeSubDomains)
    info     0   (advice only: HSTS preload, style-src 'unsafe-inline', no frame-ancestors)

The score never goes below 0. The grade is the first row whose floor the score reaches:

    A+  100   (no finding above info; only possible over HTTPS)
    A    90
    B    75
    C    60
    D    45
    F     0

The same findings always give the same score and grade.
"""

from __future__ import annotations

from collections.abc import Iterable

from floodwall.audit.model import Finding, Severity

PENALTY: dict[Severity, int] = {Severity.HIGH: 25, Severity.MEDIUM: 15, Severity.LOW: 5,
                                Severity.INFO: 0}
"""Points a finding of each severity costs."""

GRADES: tuple[tuple[int, str], ...] = ((100, "A+"), (90, "A"), (75, "B"), (60, "C"),
                                       (45, "D"), (0, "F"))
"""(lowest score, grade), best first."""


def score(findings: Iterable[Finding]) -> int:
    """100 minus the penalties of `findings`, at least 0."""
    return max(0, 100 - sum(PENALTY[finding.severity] for finding in findings))


def grade(points: int) -> str:
    """The letter for a score."""
    return next(letter for floor, letter in GRADES if points >= floor)

