"""Fetching the audited sites: GET only, a deadline per request, redirects followed and
recorded, a bounded number of sites at a time, and a per-host rate limit (one request to a
host at a time, the next 1/rate s after the previous one ended)."""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import httpx

from floodwall import __version__
from floodwall.audit.model import Fetched, Hop, Page
from floodwall.errors import ConfigError
from floodwall.pacing import HostPacers

ERROR_PROBE_PATH = "/floodwall-audit-missing-page"
"""Path fetched on each origin to see which headers its error pages send."""
MAX_REDIRECTS = 10
"""Redirects followed before a site is given up."""
BODY_LIMIT = 1_000_000
"""Bytes of an HTML body read for the CSP suggestion; the rest is not downloaded."""


@dataclass(frozen=True, slots=True)
class FetchOptions:
    """How politely and how long the audit fetches."""

    timeout: float = 10.0
    """Seconds one request (connect, TLS, headers and body) may take."""
    concurrency: int = 8
    """Sites audited at the same time."""
    rate: float = 5.0
    """Requests per second sent to one host at most."""
    ca_file: str | None = None
    """PEM file of CA certificates to trust instead of the public ones."""

    def __post_init__(self) -> None:
        if self.timeout <= 0 or self.rate <= 0 or self.concurrency < 1:
            raise ValueError(f"timeout and rate must be positive and concurrency at least 1: "
                             f"{self}")


class FetchFailure(Exception):
    """A site could not be fetched; the message is the line shown in the report."""


class Fetcher:
    """Fetches a site's page and an error page with GET only; use as `async with`."""

    def __init__(self, options: FetchOptions, limiter: HostPacers | None = None) -> None:
        self._options = options
        self._limiter = limiter or HostPacers(options.rate)
        self._slots = asyncio.Semaphore(options.concurrency)
        self._verified = self._client(_trust(options.ca_file))
        self._unverified = self._client(False)

    def _client(self, verify: ssl.SSLContext | bool) -> httpx.AsyncClient:
        # trust_env=False: the audit talks to the sites themselves, never through a proxy.
        return httpx.AsyncClient(
            verify=verify, trust_env=False, follow_redirects=False,
            timeout=httpx.Timeout(self._options.timeout),
            limits=httpx.Limits(max_connections=self._options.concurrency),
            headers={"User-Agent": f"floodwall-audit/{__version__}"},
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        await self._verified.aclose()
        await self._unverified.aclose()

    async def fetch(self, url: str) -> Fetched:
        """The page at `url` (after redirects) and an error page of its final origin.

        Raises FetchFailure when the page cannot be fetched. An untrusted certificate is not
        a failure: it is recorded in `tls_error` and the fetch goes on without verification.
        """
        async with self._slots:
            page, tls_error = await self._follow(url)
            client = self._unverified if tls_error else self._verified
            probe = str(httpx.URL(page.url).copy_with(path=ERROR_PROBE_PATH, query=None,
                                                      fragment=None))
            try:
                answer = await self._get(client, probe, read_body=False)
            except (FetchFailure, _UntrustedCertificate):
                answer = None
            error_page = answer if isinstance(answer, Page) else None
            return Fetched(page=page, error_page=error_page, tls_error=tls_error)

    async def _follow(self, url: str) -> tuple[Page, str | None]:
        """Follow redirects from `url`; switch to an unverified client on a bad certificate."""
        client, tls_error = self._verified, None
        hops: list[Hop] = []
        while len(hops) <= MAX_REDIRECTS:
            try:
                answer = await self._get(client, url, read_body=True)
            except _UntrustedCertificate as untrusted:
                client, tls_error = self._unverified, str(untrusted)
                continue
            if isinstance(answer, Page):
                return Page(url=answer.url, status=answer.status, headers=answer.headers,
                            body=answer.body, redirects=tuple(hops)), tls_error
            hops.append(answer.hop)
            url = answer.location
        raise FetchFailure(f"gave up after {MAX_REDIRECTS} redirects (last: {url})")

    async def _get(self, client: httpx.AsyncClient, url: str, *,
                   read_body: bool) -> Page | _Redirect:
        """One GET of `url`, redirects not followed."""
        try:
            host = httpx.URL(url).host
        except httpx.InvalidURL as error:
            raise FetchFailure(f"not a valid URL ({error}): {url}") from error
        timeout = self._options.timeout
        try:
            # The host's turn first (not under the timeout), held while the request runs.
            async with self._limiter.turn(host), asyncio.timeout(timeout), \
                    client.stream("GET", url) as response:
                if response.next_request is not None:
                    return _Redirect(Hop(url, response.status_code),
                                     str(response.next_request.url))
                body = await _read_html(response) if read_body else ""
                return Page(url=str(response.url), status=response.status_code,
                            headers=tuple(response.headers.multi_items()), body=body)
        except (TimeoutError, httpx.TimeoutException) as error:
            raise FetchFailure(f"timed out after {timeout:g} s waiting for {url}") from error
        except httpx.ConnectError as error:
            if client is self._verified and (problem := _certificate_problem(error)):
                raise _UntrustedCertificate(problem) from error
            raise FetchFailure(f"unreachable: {_connect_problem(error)} ({url})") from error
        except httpx.HTTPError as error:
            raise FetchFailure(f"request to {url} failed: {error}") from error


@dataclass(frozen=True, slots=True)
class _Redirect:
    """A redirect answered by one GET."""

    hop: Hop
    location: str


def _trust(ca_file: str | None) -> ssl.SSLContext | bool:
    """What the verifying client trusts: the CAs in `ca_file`, or the public ones."""
    if ca_file is None:
        return True
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as error:
        raise ConfigError(f"cannot load CA certificates ({error}): give a PEM file of CA "
                          "certificates", path=ca_file) from error


class _UntrustedCertificate(Exception):
    """The certificate of a site did not verify; the message says why."""


async def _read_html(response: httpx.Response) -> str:
    """The first BODY_LIMIT bytes of an HTML response, decoded; '' for other types."""
    if "html" not in response.headers.get("content-type", "").lower():
        return ""
    data = bytearray()
    async for chunk in response.aiter_bytes():
        data.extend(chunk)
        if len(data) >= BODY_LIMIT:
            break
    return bytes(data[:BODY_LIMIT]).decode(response.charset_encoding or "utf-8", "replace")


def _causes(error: BaseException) -> list[BaseException]:
    """`error` and the exceptions it was raised from, outermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _certificate_problem(error: BaseException) -> str | None:
    """Why certificate verification failed, when that is what `error` is about."""
    for cause in _causes(error):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return cause.verify_message or str(cause)
    return None


def _connect_problem(error: BaseException) -> str:
    """A short reason a connection could not be made."""
    for cause in _causes(error):
        if isinstance(cause, ConnectionRefusedError) or (
                isinstance(cause, OSError) and cause.errno == errno.ECONNREFUSED):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return "the name does not resolve"
    return str(error) or type(error).__name__
