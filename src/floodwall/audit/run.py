"""Running an audit: fetch every URL, check, grade, and write the fixes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

from floodwall.audit.checks import run_checks
from floodwall.audit.csp import suggest_policy
from floodwall.audit.fetch import Fetcher, FetchFailure, FetchOptions
from floodwall.audit.fixes import apache_snippet, nginx_snippet
from floodwall.audit.grading import grade, score
from floodwall.audit.model import Fetched, SiteResult
from floodwall.pacing import HostPacers


def targets(names: Iterable[str]) -> list[str]:
    """URLs to audit: a URL as given, a bare host name over both HTTPS and HTTP."""
    urls: list[str] = []
    for name in names:
        if "://" in name:
            candidates = [name]
        else:
            host = name.strip("/")
            candidates = [f"https://{host}/", f"http://{host}/"]
        urls += [url for url in candidates if url not in urls]
    return urls


def assess(url: str, fetched: Fetched) -> SiteResult:
    """The result for `url` from what was fetched: findings, grade and fixes."""
    findings = run_checks(fetched)
    points = score(findings)
    csp = suggest_policy(fetched.page.body, fetched.page.url)
    return SiteResult(
        url=url, final_url=fetched.page.url, status=fetched.page.status,
        redirects=fetched.page.redirects, grade=grade(points), score=points,
        findings=findings, nginx=nginx_snippet(fetched, findings, csp),
        apache=apache_snippet(fetched, findings, csp), csp=csp,
    )


def unreachable(url: str, reason: str) -> SiteResult:
    """The result for a `url` that could not be fetched."""
    return SiteResult(url=url, final_url=None, status=None, redirects=(), grade=None,
                      score=None, findings=(), nginx="", apache="", csp="", error=reason)


async def audit(urls: Sequence[str], options: FetchOptions,
                limiter: HostPacers | None = None) -> list[SiteResult]:
    """Audit every URL (concurrently, within the options' limits), in the order given."""
    async with Fetcher(options, limiter) as fetcher:
        async def one(url: str) -> SiteResult:
            try:
                return assess(url, await fetcher.fetch(url))
            except FetchFailure as failure:
                return unreachable(url, str(failure))
        return list(await asyncio.gather(*(one(url) for url in urls)))


def audit_sync(urls: Sequence[str], options: FetchOptions) -> list[SiteResult]:
    """`audit` for callers without an event loop."""
    return asyncio.run(audit(urls, options))
