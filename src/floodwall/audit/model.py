"""The values of an audit: a fetched page, a finding, and one site's result."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    """How much a finding weighs on the grade (see grading.py for the points)."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing wrong (or worth knowing) about a site's headers or transport."""

    header: str
    """Header (or family, like 'TLS' or 'Transport') the finding is about."""
    severity: Severity
    """How much it lowers the grade."""
    message: str
    """What is wrong and what to do, for an operator."""


@dataclass(frozen=True, slots=True)
class Hop:
    """One response of a redirect chain."""

    url: str
    """URL that answered with a redirect."""
    status: int
    """Its HTTP status (301, 302, 303, 307 or 308)."""


@dataclass(frozen=True, slots=True)
class Page:
    """A response as the audit saw it, after redirects."""

    url: str
    """URL of the final response."""
    status: int
    """HTTP status of the final response."""
    headers: tuple[tuple[str, str], ...]
    """Response headers in order, names lower-cased, repeated headers kept."""
    body: str = ""
    """The start of the body when it is HTML, else empty."""
    redirects: tuple[Hop, ...] = ()
    """Redirects followed to reach `url`, first first."""

    def values(self, name: str) -> list[str]:
        """Every value of header `name` (case-insensitive), in order."""
        wanted = name.lower()
        return [value for key, value in self.headers if key == wanted]

    def first(self, name: str) -> str | None:
        """The first value of header `name`, or None when it is absent."""
        found = self.values(name)
        return found[0] if found else None


@dataclass(frozen=True, slots=True)
class Fetched:
    """What was fetched for one site: its page, an error page, and TLS trouble."""

    page: Page
    """The page at the audited URL, after redirects."""
    error_page: Page | None
    """A page that does not exist on the same origin (to see headers on errors)."""
    tls_error: str | None = None
    """Why the certificate was not trusted, when it was not (the audit went on)."""


@dataclass(frozen=True, slots=True)
class SiteResult:
    """The audit of one URL: grade, findings, and the configuration that fixes them."""

    url: str
    """URL as asked."""
    final_url: str | None
    """URL after redirects; None when nothing was fetched."""
    status: int | None
    """HTTP status of the final response; None when nothing was fetched."""
    redirects: tuple[Hop, ...]
    """Redirects followed."""
    grade: str | None
    """A+ to F; None when the site could not be fetched."""
    score: int | None
    """0 to 100 points behind the grade; None when the site could not be fetched."""
    findings: tuple[Finding, ...]
    """Findings, most severe first."""
    nginx: str
    """nginx lines that raise the site to A ('' when nothing to fix)."""
    apache: str
    """Apache lines that raise the site to A ('' when nothing to fix)."""
    csp: str
    """Content-Security-Policy suggested from the resources the page loads."""
    error: str | None = None
    """Why the site could not be fetched (timeout, refused…), else None."""
