"""Deterministic web and ssh traffic with ground truth: who must be banned, by which jail, when.

    python -m bench.traffic OUT_DIR [--lines N] [--vhosts N] [--format hoster|combined] [--seed S]
                                    [--ssh-lines N]

OUT_DIR receives `www/<vhost>/logs/access.log` for every vhost (`site001.example`…, each file
in timestamp order), `auth.log` (OpenSSH through syslog, classic `Mar  2 08:00:01 web1 sshd[…]`
lines, in timestamp order) and `truth.json`. Same arguments give byte-identical files. Every
address comes from a documentation or shared range (192.0.2.0/24, 198.51.100.0/24,
203.0.113.0/24, 2001:db8::/32, 100.64.0.0/10). Times are whole seconds, zone +0000.

The truth is counted from the generated events, never assumed from an actor's design:

- http-get-dos: a failure is a GET with status 401, 403, 404 or 503 whose path without its
  query string is not exactly `/robots.txt`; keyed by client address across all vhost files;
  ban at 301 failures (more than 300) within 300 s.
- wordpress-bruteforce: a failure is a POST (any status) whose path without its query string
  ends with `/wp-login.php` or `/xmlrpc.php`; ban at 5 within 600 s.
- sshd: a failure is a failed authentication attempt; its time is the time of its
  `Failed <method> for …` line. A connection that logged `Invalid user` and no `Failed` line
  is one attempt at the time of its closing line. Other lines (pam_unix, `error: maximum
  authentication attempts exceeded`, `Connection closed by … [preauth]` without a user) are
  not attempts. Ban at 5 within 600 s.

Window: the failure at time t bans its key when at least `threshold` failures of that key
(itself included) have time > t - findtime. A failure exactly findtime seconds older is
outside the window: the slow ssh guesser, one attempt every 150 s, sits on that boundary.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import NamedTuple

START = 1_772_438_400
"""Default first second of the traffic: 2026-03-02 08:00:00 UTC."""
DURATION = 3 * 3600
"""Seconds of traffic generated."""
FORMATS = ("hoster", "combined")
"""Access-log formats: `hoster` adds %I %O before the request and %V %p at the end."""
HOSTNAME = "web1"
"""Host name written in auth.log lines."""
MIN_LEGIT_LINES = 1000
"""Legitimate requests that fill the run, at the least, beside the scripted actors."""
WINDOW = ("the failure at time t bans its key when at least `threshold` failures of that key "
          "(itself included) have time > t - findtime")
"""The counting convention, as written into truth.json."""

_FAILING_STATUSES = frozenset({401, 403, 404, 503})
_FLUSH_LINES = 100_000
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True, slots=True)
class JailRule:
    """One reference jail: what a failure is and how many in which window ban."""

    jail: str
    """Jail name."""
    threshold: int
    """Failures in the window that ban (the failure reaching this count is the ban time)."""
    findtime: int
    """Window length in seconds."""
    failure: str
    """What counts as a failure, in words."""


JAILS = (
    JailRule("http-get-dos", 301, 300,
             "GET with status 401/403/404/503 whose path without query string is not "
             "/robots.txt, per client address across all vhosts"),
    JailRule("wordpress-bruteforce", 5, 600,
             "POST (any status) whose path without query string ends with /wp-login.php "
             "or /xmlrpc.php"),
    JailRule("sshd", 5, 600,
             "failed ssh authentication attempt, at the time of its 'Failed' line; an "
             "'Invalid user' connection without one counts once at its closing line"),
)
"""The three reference jails whose truth is computed."""


@dataclass(frozen=True, slots=True)
class Actor:
    """A scripted source of traffic and the jails it is designed to trip."""

    name: str
    """Kind of actor, as written in truth.json."""
    addresses: tuple[str, ...]
    """Client addresses it uses (compressed form)."""
    designed_jails: frozenset[str]
    """Jails meant to ban it; empty when it must never be banned."""
    why: str
    """What it does and why it is (not) banned."""


_LEGIT_ADDRESSES = tuple(
    [f"100.64.{i // 200}.{i % 200 + 10}" for i in range(480)]
    + [f"2001:db8:1:{i:x}::10" for i in range(1, 21)]
)

ACTORS = (
    Actor("legit", _LEGIT_ADDRESSES, frozenset(),
          "visitors browsing their sites: mostly 200/304, a few 404s, at most 2 wp-login.php "
          "logins per 10 minutes"),
    Actor("distributed-scanner", ("203.0.113.10", "203.0.113.11"), frozenset({"http-get-dos"}),
          "vulnerability scan spread over every vhost: each file sees a few requests, the "
          "address sends well over 300 failing GETs in under 5 minutes"),
    Actor("site-hammer", ("203.0.113.20",), frozenset({"http-get-dos"}),
          "hammers one site with hundreds of failing GETs (plus HEADs) in 3 minutes"),
    Actor("wp-login-bruteforce", ("203.0.113.30",), frozenset({"wordpress-bruteforce"}),
          "POSTs passwords to /wp-login.php every few seconds"),
    Actor("xmlrpc-bruteforce", ("203.0.113.31",), frozenset({"wordpress-bruteforce"}),
          "POSTs system.multicall password batches to /xmlrpc.php on three sites"),
    Actor("ipv6-scanner", ("2001:db8:bad:1::66",), frozenset({"http-get-dos"}),
          "vulnerability scan from IPv6, hundreds of failing GETs in 4 minutes"),
    Actor("ssh-guesser", ("203.0.113.50",), frozenset({"sshd"}),
          "fast password and key guessing, several multi-line attempts per connection"),
    Actor("ssh-user-probe", ("203.0.113.51",), frozenset({"sshd"}),
          "probes user names without sending a password: each 'Invalid user' connection "
          "is one attempt at its closing line"),
    Actor("slow-ssh-guesser", ("203.0.113.77",), frozenset(),
          "one attempt every 150 s for an hour: exactly 4 per 10 minutes (the 5th earlier "
          "one is exactly 600 s old, outside the window); 2-5 lines per attempt, so a line "
          "counter would ban it"),
    Actor("ssh-banner-probe", ("198.51.100.7",), frozenset(),
          "connects and leaves before authenticating: many lines, no attempt"),
    Actor("ssh-admins", ("198.51.100.10", "198.51.100.11"), frozenset(),
          "deploy logins by key, one mistyped password followed by a good one"),
    Actor("slow-web-attacker", ("203.0.113.40",), frozenset(),
          "280 failing GETs per 5 minutes for 30 minutes, evenly spread: under 301"),
    Actor("nat-office", ("198.51.100.30", "198.51.100.31"), frozenset(),
          "many users behind one address: a morning rush of 450 requests in 5 minutes, "
          "mostly 200s, some 404s, a few logins"),
    Actor("crawler", ("198.51.100.20",), frozenset(),
          "heavy crawler over every vhost for the whole run: thousands of 404s spread thinly "
          "(banned if the files were read one after another instead of merged by time) and "
          "/robots.txt 404s on every vhost in 4 minutes (banned if robots.txt counted)"),
    Actor("injector", ("198.51.100.66", "198.51.100.67", "198.51.100.68"), frozenset(),
          "legit-volume clients writing the victim's addresses into URLs, user agents, "
          "referers, the Apache user field and ssh user names; each stays under every "
          "threshold, together they would get the victim banned if it were attributed"),
    Actor("victim", ("192.0.2.99", "2001:db8:dead:beef::99"), frozenset(),
          "sends nothing; only named inside the injector's lines"),
)
"""Every actor of the scenario, in the order of truth.json."""


@dataclass(frozen=True, slots=True)
class BanTruth:
    """A key that must be banned: the first failure that crosses a jail's threshold."""

    jail: str
    """Jail that bans."""
    address: str
    """Banned client address."""
    actor: str
    """Actor owning the address."""
    first_ban_time: int
    """Unix time of the failure that first reaches the jail's threshold."""


@dataclass(frozen=True, slots=True)
class ActorTruth:
    """An actor, its addresses, and whether the counted truth bans any of them."""

    actor: str
    """Kind of actor."""
    addresses: tuple[str, ...]
    """Client addresses it uses."""
    banned: bool
    """True when at least one of its addresses is in the bans."""
    why: str
    """What it does and why it is (not) banned."""


@dataclass(frozen=True, slots=True)
class Truth:
    """The content of truth.json."""

    start: int
    """First second of the traffic (unix time)."""
    end: int
    """Second after the last possible line (unix time)."""
    format: str
    """Access-log format of the vhost files."""
    lines: int
    """Lines written over all files."""
    vhosts: int
    """Number of vhost access logs."""
    window: str
    """The counting convention."""
    jails: tuple[JailRule, ...]
    """The reference jails counted."""
    bans: tuple[BanTruth, ...]
    """Every (jail, address) that must be banned, by first ban time."""
    actors: tuple[ActorTruth, ...]
    """Every actor, with the counted verdict."""


class Request(NamedTuple):
    """One HTTP request as the server logs it (a tuple: a million are made per run)."""

    time: int
    vhost: int
    address: str
    method: str
    path: str
    status: int
    size: int
    agent: str
    referer: str = "-"
    user: str = "-"
    port: int = 443


@dataclass(slots=True)
class _Process:
    """The auth.log lines of one process: an sshd connection, a cron job or systemd-logind."""

    program: str
    address: str = ""
    lines: list[tuple[int, str, str]] = field(default_factory=list)
    """(time, kind, message); kind is 'failed', 'invalid', 'close' or 'other'."""
    pid: int = 0

    def log(self, when: int, message: str, kind: str = "other") -> None:
        """Append one line."""
        self.lines.append((when, kind, message))


@dataclass(slots=True)
class _Traffic:
    """What one actor sends: web requests and auth.log processes."""

    requests: list[Request] = field(default_factory=list)
    processes: list[_Process] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Plan:
    """The arguments every actor script needs."""

    start: int
    vhosts: int
    seed: int

    def rng(self, actor: str) -> random.Random:
        """A random stream of its own per actor, so actors do not shift each other."""
        return random.Random(f"{self.seed}:{actor}")

    def at(self, offset: int) -> int:
        """Unix time `offset` seconds into the run."""
        return self.start + offset


# --- request vocabulary -------------------------------------------------------------------

_BROWSERS = (
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/122.0.0.0 Safari/537.36"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.3 Safari/605.1.15"),
    "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/17.3 Mobile/15E148 Safari/604.1"),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/122.0.0.0 Mobile Safari/537.36"),
)
_PAGES = ("/", "/about/", "/blog/", "/blog/2026/02/spring-menu/", "/contact/", "/products/",
          "/products/widget-pro/", "/faq/", "/news/", "/?p=123", "/category/events/",
          "/search?q=opening+hours", "/shop/cart/", "/team/", "/wp-login.php")
_ASSETS = ("/wp-content/themes/site/style.css?ver=6.4.3",
           "/wp-includes/js/jquery/jquery.min.js?ver=3.7.1",
           "/wp-content/uploads/2026/01/header.jpg", "/favicon.ico",
           "/wp-content/themes/site/js/main.js", "/wp-content/uploads/2025/11/logo.png")
_STALE = ("/old-site/index.html", "/images/banner-2019.gif", "/apple-touch-icon.png",
          "/blog/2019/removed-post/", "/wp-content/uploads/2020/05/missing.pdf")
_SCAN = (("/wp-admin/install.php", 404), ("/.env", 403), ("/.git/config", 403),
         ("/phpmyadmin/index.php", 404), ("/admin/config.php", 404),
         ("/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", 404),
         ("/cgi-bin/luci/;stok=/locale", 404), ("/solr/admin/info/system?wt=json", 404),
         ("/actuator/health", 404), ("/server-status", 403), ("/.aws/credentials", 404),
         ("/wp-content/plugins/wp-file-manager/readme.txt", 404), ("/backup.zip", 404),
         ("/index.php?s=/Index/\\think\\app/invokefunction", 404), ("/config.json", 404),
         ("/", 200), ("/robots.txt", 404), ("/xmlrpc.php", 405), ("/wp-login.php", 200),
         ("/.well-known/security.txt", 404), ("/api/v1/pods", 401))
_SCAN_FAILING = tuple(entry for entry in _SCAN if entry[1] in _FAILING_STATUSES
                      and entry[0] != "/robots.txt")
_SCANNER_AGENTS = ("Mozilla/5.0 zgrab/0.x", "python-requests/2.31.0",
                   "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36",
                   "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)")
_CRAWLER_AGENT = "Mozilla/5.0 (compatible; ExampleBot/2.1; +https://crawler.example/bot.html)"


def _browse(rng: random.Random, when: int, vhost: int, address: str, agent: str,
            site: str, stale_rate: float) -> Request:
    """A request a person's browser makes: a page, an asset (often 304) or a stale link."""
    roll = rng.random()
    if roll < stale_rate:
        return Request(when, vhost, address, "GET", rng.choice(_STALE), 404, 196, agent,
                       f"https://{site}/")
    if roll < 0.45:
        status = 304 if rng.random() < 0.4 else 200
        return Request(when, vhost, address, "GET", rng.choice(_ASSETS), status,
                       0 if status == 304 else rng.randrange(900, 90_000), agent,
                       f"https://{site}/")
    if roll < 0.47:
        return Request(when, vhost, address, "POST", "/wp-comments-post.php", 302, 0, agent,
                       f"https://{site}/blog/")
    referer = "https://search.example/" if rng.random() < 0.3 else "-"
    return Request(when, vhost, address, "GET", rng.choice(_PAGES), 200,
                   rng.randrange(4_000, 60_000), agent, referer)


class _Logins:
    """Real logins of people: at most 2 wp-login.php POSTs per address in any 10 minutes."""

    def __init__(self) -> None:
        self._recent: dict[str, list[int]] = {}

    def request(self, when: int, vhost: int, address: str, agent: str, site: str
                ) -> Request | None:
        """A login POST at `when`, or None when it would be a third one in 10 minutes."""
        recent = self._recent.setdefault(address, [])
        if len(recent) >= 2 and recent[-2] > when - 600:
            return None
        recent.append(when)
        del recent[:-2]
        return Request(when, vhost, address, "POST", "/wp-login.php", 302, 0, agent,
                       f"https://{site}/wp-login.php")


def _spread(first: int, seconds: int, count: int) -> Iterator[int]:
    """`count` whole-second times evenly spread over [first, first + seconds)."""
    return (first + i * seconds // count for i in range(count))


# --- web actors ---------------------------------------------------------------------------

def _legit(plan: _Plan, names: Sequence[str], count: int) -> Iterator[Request]:
    """`count` requests of the legitimate visitors, in time order over the whole run."""
    rng = plan.rng("legit")
    addresses = _LEGIT_ADDRESSES
    homes = [rng.randrange(plan.vhosts) for _ in addresses]
    agents = [rng.choice(_BROWSERS) for _ in addresses]
    logins = _Logins()
    for when in _spread(plan.start, DURATION, count):
        visitor = rng.randrange(len(addresses))
        vhost = homes[visitor] if rng.random() < 0.85 else rng.randrange(plan.vhosts)
        address, agent, site = addresses[visitor], agents[visitor], names[vhost]
        login = None
        if visitor % 10 == 0 and rng.random() < 0.01:
            login = logins.request(when, vhost, address, agent, site)
        yield login or _browse(rng, when, vhost, address, agent, site, 0.02)


def _distributed_scanner(plan: _Plan, names: Sequence[str]) -> _Traffic:
    """Two addresses, each 460 requests over every vhost in 270 s."""
    rng, traffic = plan.rng("distributed-scanner"), _Traffic()
    for address, offset in (("203.0.113.10", 1800), ("203.0.113.11", 5400)):
        agent = rng.choice(_SCANNER_AGENTS)
        for i, when in enumerate(_spread(plan.at(offset), 270, 460)):
            path, status = rng.choice(_SCAN)
            traffic.requests.append(Request(when, (i + offset) % plan.vhosts, address,
                                            "GET", path, status, 196, agent,
                                            port=rng.choice((80, 443))))
    return traffic


def _site_hammer(plan: _Plan, names: Sequence[str]) -> _Traffic:
    """700 requests on one site in 180 s: failing GETs, 503s when it buckles, some HEADs."""
    rng, traffic = plan.rng("site-hammer"), _Traffic()
    vhost = min(6, plan.vhosts - 1)
    for when in _spread(plan.at(2400), 180, 700):
        method = "HEAD" if rng.random() < 0.1 else "GET"
        path, status = rng.choice(_SCAN)
        if status != 200 and rng.random() < 0.2:
            status = 503
        traffic.requests.append(Request(when, vhost, "203.0.113.20", method, path, status,
                                        196, "Go-http-client/1.1"))
    return traffic


def _wp_login_bruteforce(plan: _Plan, names: Sequence[str]) -> _Traffic:
    """A look at the login form, then 80 password POSTs in 10 minutes."""
    vhost, agent = min(11, plan.vhosts - 1), _BROWSERS[0]
    site, address = names[vhost], "203.0.113.30"
    traffic = _Traffic([Request(plan.at(2995), vhost, address, "GET", "/wp-login.php", 200,
                                4_612, agent)])
    for when in _spread(plan.at(3000), 600, 80):
        traffic.requests.append(Request(when, vhost, address, "POST", "/wp-login.php", 200,
                                        4_731, agent, f"https://{site}/wp-login.php"))
    return traffic


def _xmlrpc_bruteforce(plan: _Plan, names: Sequence[str]) -> _Traffic:
    """60 system.multicall POSTs to /xmlrpc.php over three sites in 5 minutes."""
    traffic = _Traffic()
    for i, when in enumerate(_spread(plan.at(4200), 300, 60)):
        traffic.requests.append(Request(when, (20 + i % 3) % plan.vhosts, "203.0.113.31",
                                        "POST", "/xmlrpc.php", 200, 403, "Mozilla/5.0"))
    return traffic


def _ipv6_scanner(plan: _Plan, names: Sequence[str]) -> _Traffic:
    """480 scan requests from one IPv6 address over random vhosts in 240 s."""
    rng, traffic = plan.rng("ipv6-scanner"), _Traffic()
    for when in _spread(plan.at(6000), 240, 480):
        path, status = rng.choice(_SCAN)
        traffic.requests.append(Request(when, rng.randrange(plan.vhosts), "2001:db8:bad:1::66",
                                        "GET", path, status, 196, _SCANNER_AGENTS[0]))
    return traffic


def _slow_web_attacker(plan: _Plan, names: Sequence[str]) -> _Traffic:
    """30 minutes at 280 failing GETs per 5 minutes, plus a home-page GET now and then."""
    rng, traffic = plan.rng("slow-web-attacker"), _Traffic()
    address, agent = "203.0.113.40", _SCANNER_AGENTS[1]
    for when in _spread(plan.at(7200), 1800, 6 * 280):
        path, status = rng.choice(_SCAN_FAILING)
        traffic.requests.append(Request(when, rng.randrange(plan.vhosts), address, "GET",
                                        path, status, 196, agent))
    for when in _spread(plan.at(7200), 1800, 200):
        traffic.requests.append(Request(when, rng.randrange(plan.vhosts), address, "GET", "/",
                                        200, 12_000, agent))
    return traffic


def _nat_office(plan: _Plan, names: Sequence[str]) -> _Traffic:
    """Two office gateways: 3000 requests each over the run, one with a 450-request rush."""
    rng, traffic = plan.rng("nat-office"), _Traffic()
    logins = _Logins()
    sites = [rng.randrange(plan.vhosts) for _ in range(8)]
    times = {"198.51.100.30": [*_spread(plan.start, DURATION, 3000),
                               *_spread(plan.at(3600), 300, 450)],
             "198.51.100.31": [*_spread(plan.start, DURATION, 3000)]}
    for address, moments in times.items():
        for when in sorted(moments):
            vhost, agent = rng.choice(sites), rng.choice(_BROWSERS)
            login = None
            if rng.random() < 0.004:
                login = logins.request(when, vhost, address, agent, names[vhost])
            traffic.requests.append(
                login or _browse(rng, when, vhost, address, agent, names[vhost], 0.06))
    return traffic


def _crawler(plan: _Plan, names: Sequence[str]) -> _Traffic:
    """A request every 2 s over every vhost all run long, and a burst of robots.txt 404s."""
    rng, traffic = plan.rng("crawler"), _Traffic()
    address = "198.51.100.20"
    rounds = math.ceil(320 / plan.vhosts)
    for i, when in enumerate(_spread(plan.at(600), 240, rounds * plan.vhosts)):
        traffic.requests.append(Request(when, i % plan.vhosts, address, "GET", "/robots.txt",
                                        404, 196, _CRAWLER_AGENT, port=80))
    for i, when in enumerate(_spread(plan.start, DURATION, DURATION // 2)):
        roll = rng.random()
        if roll < 0.4:
            path, status = rng.choice(_STALE), 404
        elif roll < 0.45:
            path, status = "/blog", 301
        else:
            path, status = rng.choice(_PAGES), 200
        traffic.requests.append(Request(when, i % plan.vhosts, address, "GET", path, status,
                                        5_000, _CRAWLER_AGENT))
    return traffic


def _injector_requests(plan: _Plan, names: Sequence[str], address: str, index: int
                       ) -> list[Request]:
    """Browsing, a burst of 110 failing GETs naming the victim, and 6 victim-laden logins."""
    rng = plan.rng(f"injector-{index}")
    v4, v6 = "192.0.2.99", "2001:db8:dead:beef::99"
    vhost = (30 + index) % plan.vhosts
    site, agent = names[vhost], rng.choice(_BROWSERS)
    requests = [_browse(rng, when, vhost, address, agent, site, 0.02)
                for when in _spread(plan.at(index * 7), DURATION, 250)]
    forged = (
        lambda when: Request(when, vhost, address, "GET", f"/search?q={v4}", 404, 196, agent),
        lambda when: Request(when, vhost, address, "GET", f"/{v4}/wp-admin/", 404, 196, agent),
        lambda when: Request(when, vhost, address, "GET", "/members/", 401, 381, agent,
                             user=v4),
        lambda when: Request(when, vhost, address, "GET", "/old/", 404, 196,
                             f'Mozilla/5.0" {v4} - - "GET /', f"http://{v4}/"),
        lambda when: Request(when, vhost, address, "GET", "/gone.html", 404, 196,
                             f"Mozilla/5.0 (X11; Linux) from {v6}", f"http://[{v6}]/"),
    )
    for i, when in enumerate(_spread(plan.at(8000), 240, 110)):
        requests.append(forged[i % len(forged)](when))
    for k in range(6):
        requests.append(Request(plan.at(7800 + 300 * k + 20 * index), vhost, address, "POST",
                                "/wp-login.php", 200, 4_731, f"{agent} {v4}",
                                f"https://{v4}/wp-login.php", user=v4))
    return requests


# --- auth.log -----------------------------------------------------------------------------

def _fingerprint(rng: random.Random) -> str:
    """A made-up SHA256 key fingerprint."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return "SHA256:" + "".join(rng.choice(alphabet) for _ in range(43))


def _ssh_invalid_user(address: str, port: int, user: str, fails: Sequence[int], *,
                      close_at: int, ending: str = "closed") -> _Process:
    """A connection for a user that does not exist, with a password attempt per `fails` time."""
    conn = _Process("sshd", address)
    opened = fails[0] - 3 if fails else close_at - 1
    conn.log(opened, f"Invalid user {user} from {address} port {port}", "invalid")
    for when in fails:
        conn.log(when - 2, "pam_unix(sshd:auth): check pass; user unknown")
        conn.log(when - 2, "pam_unix(sshd:auth): authentication failure; logname= uid=0 "
                           f"euid=0 tty=ssh ruser= rhost={address}")
        conn.log(when, f"Failed password for invalid user {user} from {address} port {port} "
                       "ssh2", "failed")
    if ending == "closed":
        conn.log(close_at, f"Connection closed by invalid user {user} {address} port {port} "
                           "[preauth]", "close")
    else:
        conn.log(close_at, f"Received disconnect from {address} port {port}:11: Bye Bye "
                           "[preauth]")
        conn.log(close_at, f"Disconnected from invalid user {user} {address} port {port} "
                           "[preauth]", "close")
    return conn


def _ssh_known_user(address: str, port: int, user: str, fails: Sequence[int], *,
                    close_at: int, key: str = "") -> _Process:
    """A connection for an existing user: failed passwords, or failed keys when `key` is set.

    Six failures end with OpenSSH's 'maximum authentication attempts exceeded'.
    """
    conn = _Process("sshd", address)
    pam = (f"logname= uid=0 euid=0 tty=ssh ruser= rhost={address}  user={user}")
    for when in fails:
        if key:
            conn.log(when, f"Failed publickey for {user} from {address} port {port} ssh2: "
                           f"RSA {key}", "failed")
        else:
            conn.log(when - 2, f"pam_unix(sshd:auth): authentication failure; {pam}")
            conn.log(when, f"Failed password for {user} from {address} port {port} ssh2",
                     "failed")
    if len(fails) >= 6:
        conn.log(close_at, f"error: maximum authentication attempts exceeded for {user} from "
                           f"{address} port {port} ssh2 [preauth]")
        conn.log(close_at, f"Disconnecting authenticating user {user} {address} port {port}: "
                           "Too many authentication failures [preauth]", "close")
        if not key:
            conn.log(close_at, f"PAM {len(fails) - 1} more authentication failures; {pam}")
    else:
        conn.log(close_at, f"Connection closed by authenticating user {user} {address} port "
                           f"{port} [preauth]", "close")
    return conn


def _ssh_session(rng: random.Random, address: str, user: str, opened: int, closed: int,
                 *, typo: bool = False) -> list[_Process]:
    """A good login (by key, or by password after one typo), its session and logout."""
    port, uid = rng.randrange(32_768, 61_000), 1000 if user == "deploy" else 1001
    conn = _Process("sshd", address)
    if typo:
        conn.log(opened - 5, "pam_unix(sshd:auth): authentication failure; logname= uid=0 "
                             f"euid=0 tty=ssh ruser= rhost={address}  user={user}")
        conn.log(opened - 3, f"Failed password for {user} from {address} port {port} ssh2",
                 "failed")
        conn.log(opened, f"Accepted password for {user} from {address} port {port} ssh2")
    else:
        conn.log(opened, f"Accepted publickey for {user} from {address} port {port} ssh2: "
                         f"ED25519 {_fingerprint(rng)}")
    conn.log(opened, f"pam_unix(sshd:session): session opened for user {user}(uid={uid}) "
                     "by (uid=0)")
    conn.log(closed, f"Received disconnect from {address} port {port}:11: disconnected by user")
    conn.log(closed, f"Disconnected from user {user} {address} port {port}")
    conn.log(closed, f"pam_unix(sshd:session): session closed for user {user}")
    session = rng.randrange(3, 900)
    logind = _Process("systemd-logind", pid=612)
    logind.log(opened, f"New session {session} of user {user}.")
    logind.log(closed, f"Session {session} logged out. Waiting for processes to exit.")
    logind.log(closed, f"Removed session {session}.")
    return [conn, logind]


def _ssh_guesser(plan: _Plan, names: Sequence[str]) -> _Traffic:
    """12 connections 45 s apart: invalid users, root to the limit, keys, bare probes."""
    rng, traffic = plan.rng("ssh-guesser"), _Traffic()
    address = "203.0.113.50"
    users = ("admin", "test", "oracle", "ubuntu", "postgres", "user")
    for i in range(12):
        t, port = plan.at(1200 + 45 * i), rng.randrange(32_768, 61_000)
        shape = i % 4
        if shape == 0:
            fails = [t + 3, t + 7, t + 11]
            traffic.processes.append(_ssh_invalid_user(address, port, users[i % 6], fails,
                                                       close_at=t + 13, ending="disconnected"))
        elif shape == 1:
            fails = [t + 2 + 4 * k for k in range(6)]
            traffic.processes.append(_ssh_known_user(address, port, "root", fails,
                                                     close_at=fails[-1]))
        elif shape == 2:
            traffic.processes.append(_ssh_known_user(address, port, "root", [t, t + 1],
                                                     close_at=t + 2, key=_fingerprint(rng)))
        else:
            traffic.processes.append(_ssh_invalid_user(address, port, users[i % 6], [],
                                                       close_at=t + 1))
    return traffic


def _ssh_user_probe(plan: _Plan, names: Sequence[str]) -> _Traffic:
    """Six 'Invalid user' connections 80 s apart that never send a password."""
    rng, traffic = plan.rng("ssh-user-probe"), _Traffic()
    for i, user in enumerate(("git", "jenkins", "ftpuser", "pi", "hadoop", "steam")):
        traffic.processes.append(_ssh_invalid_user(
            "203.0.113.51", rng.randrange(32_768, 61_000), user, [],
            close_at=plan.at(5000 + 80 * i), ending="closed" if i % 2 else "disconnected"))
    return traffic


def _slow_ssh_guesser(plan: _Plan, names: Sequence[str]) -> _Traffic:
    """24 attempts exactly 150 s apart, one connection each, in three shapes."""
    rng, traffic = plan.rng("slow-ssh-guesser"), _Traffic()
    address = "203.0.113.77"
    for i in range(24):
        t, port = plan.at(2000 + 150 * i), rng.randrange(32_768, 61_000)
        if i % 3 == 0:
            traffic.processes.append(_ssh_known_user(address, port, "root", [t], close_at=t + 1))
        elif i % 3 == 1:
            traffic.processes.append(_ssh_invalid_user(address, port, "support", [t],
                                                       close_at=t + 1))
        else:
            traffic.processes.append(_ssh_invalid_user(address, port, "guest", [], close_at=t))
    return traffic


def _ssh_banner_probe(plan: _Plan, names: Sequence[str]) -> _Traffic:
    """40 connections in 20 minutes that close before any authentication."""
    rng, traffic = plan.rng("ssh-banner-probe"), _Traffic()
    address = "198.51.100.7"
    for i, when in enumerate(_spread(plan.at(900), 1200, 40)):
        conn, port = _Process("sshd", address), rng.randrange(1024, 61_000)
        if i % 3 == 0:
            conn.log(when, "error: kex_exchange_identification: Connection closed by remote host")
            conn.log(when, f"Connection closed by {address} port {port}")
        elif i % 3 == 1:
            conn.log(when, f"Connection closed by {address} port {port} [preauth]")
        else:
            conn.log(when, f"Received disconnect from {address} port {port}:11: Bye Bye "
                           "[preauth]")
            conn.log(when, f"Disconnected from {address} port {port} [preauth]")
        traffic.processes.append(conn)
    return traffic


def _ssh_admins(plan: _Plan, names: Sequence[str]) -> _Traffic:
    """A deploy key login every 20 minutes, and a person who mistypes once."""
    rng, traffic = plan.rng("ssh-admins"), _Traffic()
    for opened in range(plan.at(300), plan.at(DURATION - 900), 1200):
        traffic.processes += _ssh_session(rng, "198.51.100.10", "deploy", opened,
                                          opened + rng.randrange(20, 600))
    traffic.processes += _ssh_session(rng, "198.51.100.11", "alice", plan.at(3000),
                                      plan.at(4800), typo=True)
    return traffic


def _cron(plan: _Plan, names: Sequence[str]) -> _Traffic:
    """sysstat every 10 minutes and the hourly run-parts, as cron logs them."""
    traffic = _Traffic()
    sysstat = "command -v debian-sa1 > /dev/null && debian-sa1 1 1"
    hourly = "cd / && run-parts --report /etc/cron.hourly"
    jobs = [(when, sysstat) for when in range(plan.at(0), plan.at(DURATION), 600)]
    jobs += [(when, hourly) for when in range(plan.at(1020), plan.at(DURATION), 3600)]
    for when, command in jobs:
        job = _Process("CRON")
        job.log(when, "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)")
        job.log(when, f"(root) CMD ({command})")
        job.log(when + 1, "pam_unix(cron:session): session closed for user root")
        traffic.processes.append(job)
    return traffic


def _injector(plan: _Plan, names: Sequence[str]) -> _Traffic:
    """Three clients that name the victim in their requests and in ssh user names."""
    traffic = _Traffic()
    for index, address in enumerate(("198.51.100.66", "198.51.100.67", "198.51.100.68")):
        traffic.requests += _injector_requests(plan, names, address, index)
        rng = plan.rng(f"injector-ssh-{index}")
        for k in range(6):
            t, port = plan.at(7800 + 300 * k + 20 * index), rng.randrange(32_768, 61_000)
            user = ("192.0.2.99", "admin from 192.0.2.99", "2001:db8:dead:beef::99")[k % 3]
            traffic.processes.append(_ssh_invalid_user(address, port, user, [t],
                                                       close_at=t + 2))
    return traffic


SSH_NOISE = Actor(
    "ssh-noise", tuple(f"100.65.{i // 250}.{i % 250 + 1}" for i in range(16000)), frozenset(),
    "background ssh traffic for a large auth.log (--ssh-lines): password guesses from 16000 "
    "addresses, each at most one attempt per 10 minutes, and key logins; never banned")
"""Present (and in truth.json) only when an auth.log size is asked for."""


def _ssh_noise(plan: _Plan, lines: int) -> list[_Process]:
    """Processes adding exactly `lines` auth.log lines of background ssh traffic."""
    rng, processes, written = plan.rng("ssh-noise"), [], 0
    addresses = SSH_NOISE.addresses
    per_second = max(1, lines // 4) / DURATION  # connections: ~4 lines each
    turn = 0
    while lines - written >= 5:
        when = plan.at(min(DURATION - 2, int(turn / per_second)))
        port = rng.randrange(32_768, 61_000)
        # Round robin over 16000 addresses keeps each one's attempts > 10 minutes apart.
        address = addresses[turn % len(addresses)]
        if turn % 4 == 3:
            conn = _Process("sshd", address)
            conn.log(when, f"Accepted publickey for deploy from {address} port {port} ssh2: "
                           f"ED25519 {_fingerprint(rng)}")
            conn.log(when + 1, f"Disconnected from user deploy {address} port {port}")
        elif turn % 2:
            conn = _ssh_invalid_user(address, port, rng.choice(("admin", "test", "oracle")),
                                     [when + 1], close_at=when + 2)
        else:
            conn = _ssh_known_user(address, port, "root", [when + 1], close_at=when + 2)
        processes.append(conn)
        written += len(conn.lines)
        turn += 1
    for offset in range(lines - written):
        job = _Process("CRON")
        job.log(plan.at(DURATION - 1), f"(root) CMD (run-parts /etc/cron.minutely #{offset})")
        processes.append(job)
    return processes


_SCRIPTS: tuple[Callable[[_Plan, Sequence[str]], _Traffic], ...] = (
    _distributed_scanner, _site_hammer, _wp_login_bruteforce, _xmlrpc_bruteforce,
    _ipv6_scanner, _slow_web_attacker, _nat_office, _crawler, _injector, _ssh_guesser,
    _ssh_user_probe, _slow_ssh_guesser, _ssh_banner_probe, _ssh_admins, _cron,
)


# --- the truth ----------------------------------------------------------------------------

def web_failure_jail(request: Request) -> str | None:
    """The jail for which `request` is a failure, if any."""
    path = request.path.split("?", 1)[0]
    if (request.method == "GET" and request.status in _FAILING_STATUSES
            and path != "/robots.txt"):
        return "http-get-dos"
    if request.method == "POST" and path.endswith(("/wp-login.php", "/xmlrpc.php")):
        return "wordpress-bruteforce"
    return None


def ssh_attempts(processes: Iterable[_Process]) -> Iterator[tuple[str, int]]:
    """(address, time) of every failed authentication attempt in these processes."""
    for process in processes:
        failed = [when for when, kind, _ in process.lines if kind == "failed"]
        if failed:
            yield from ((process.address, when) for when in failed)
        elif any(kind == "invalid" for _, kind, _ in process.lines):
            yield from ((process.address, when) for when, kind, _ in process.lines
                        if kind == "close")


def first_crossing(times: Iterable[int], threshold: int, findtime: int) -> int | None:
    """Time of the first failure with `threshold` failures in its window, or None."""
    ordered = sorted(times)
    for i in range(threshold - 1, len(ordered)):
        if ordered[i] - ordered[i - threshold + 1] < findtime:
            return ordered[i]
    return None


def _truth(plan: _Plan, fmt: str, lines: int, failures: dict[tuple[str, str], list[int]],
           actors: Sequence[Actor] = ACTORS) -> Truth:
    """Count every key of every jail and list the crossings."""
    owner = {address: actor.name for actor in actors for address in actor.addresses}
    rules = {rule.jail: rule for rule in JAILS}
    bans = []
    for (jail, address), times in failures.items():
        crossed = first_crossing(times, rules[jail].threshold, rules[jail].findtime)
        if crossed is not None:
            bans.append(BanTruth(jail, address, owner[address], crossed))
    bans.sort(key=lambda ban: (ban.first_ban_time, ban.jail, ban.address))
    banned = {ban.address for ban in bans}
    actors = tuple(ActorTruth(actor.name, actor.addresses,
                              any(address in banned for address in actor.addresses), actor.why)
                   for actor in actors)
    return Truth(plan.start, plan.start + DURATION, fmt, lines, plan.vhosts, WINDOW, JAILS,
                 tuple(bans), actors)


# --- writing ------------------------------------------------------------------------------

def _escape(text: str) -> str:
    """Escape a field as Apache does inside quotes."""
    if '"' in text or "\\" in text:
        return text.replace("\\", "\\\\").replace('"', '\\"')
    return text


def _apache_time(when: int) -> str:
    """`02/Mar/2026:08:00:01 +0000`."""
    t = time.gmtime(when)
    return (f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000")


def _syslog_time(when: int) -> str:
    """`Mar  2 08:00:01`."""
    t = time.gmtime(when)
    return (f"{_MONTHS[t.tm_mon - 1]} {t.tm_mday:2d} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}")


def _hoster_line(r: Request, site: str, stamp: str) -> str:
    """`%h %l %u %t %I %O "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %V %p`."""
    request = _escape(f"{r.method} {r.path} HTTP/1.1")
    agent, referer = _escape(r.agent), _escape(r.referer)
    received = len(request) + len(agent) + len(referer) + 180
    return (f"{r.address} - {_escape(r.user)} [{stamp}] {received} {r.size + 240} "
            f'"{request}" {r.status} {r.size or "-"} "{referer}" "{agent}" {site} {r.port}\n')


def _combined_line(r: Request, site: str, stamp: str) -> str:
    """`%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"`."""
    return (f"{r.address} - {_escape(r.user)} [{stamp}] "
            f'"{_escape(f"{r.method} {r.path} HTTP/1.1")}" {r.status} {r.size or "-"} '
            f'"{_escape(r.referer)}" "{_escape(r.agent)}"\n')


def _flush(paths: Sequence[Path], buffers: list[list[str]]) -> None:
    """Append every buffered line to its file and empty the buffers."""
    for path, buffer in zip(paths, buffers, strict=False):
        if buffer:
            with path.open("a", encoding="utf-8", newline="\n") as handle:
                handle.write("".join(buffer))
            buffer.clear()


def _write_web(out_dir: Path, names: Sequence[str], stream: Iterable[Request], fmt: str,
               failures: dict[tuple[str, str], list[int]]) -> int:
    """Write the time-ordered `stream` into the vhost logs, noting each failure; lines written."""
    paths = [out_dir / "www" / name / "logs" / "access.log" for name in names]
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    line = _hoster_line if fmt == "hoster" else _combined_line
    buffers: list[list[str]] = [[] for _ in names]
    written, last, stamp = 0, -1, ""
    for request in stream:
        if request.time != last:
            last, stamp = request.time, _apache_time(request.time)
        buffers[request.vhost].append(line(request, names[request.vhost], stamp))
        jail = web_failure_jail(request)
        if jail is not None:
            failures[jail, request.address].append(request.time)
        written += 1
        if written % _FLUSH_LINES == 0:
            _flush(paths, buffers)
    _flush(paths, buffers)
    return written


def _write_auth(path: Path, processes: Sequence[_Process], rng: random.Random) -> int:
    """Give each process a pid in order of appearance and write auth.log; lines written."""
    pid = 1000
    for process in sorted(processes, key=lambda p: p.lines[0][0]):
        if not process.pid:
            pid += rng.randrange(1, 40)
            process.pid = pid
    entries = sorted(((when, process.program, process.pid, message)
                      for process in processes for when, _, message in process.lines),
                     key=lambda entry: entry[0])
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        handle.writelines(f"{_syslog_time(when)} {HOSTNAME} {program}[{pid}]: {message}\n"
                          for when, program, pid, message in entries)
    return len(entries)


def vhost_names(count: int) -> list[str]:
    """`site001.example`, `site002.example`, …"""
    return [f"site{i:03d}.example" for i in range(1, count + 1)]


def generate(out_dir: Path, *, lines: int = 200_000, vhosts: int = 300, fmt: str = "hoster",
             seed: int = 1, start: float = START, ssh_lines: int = 0) -> Truth:
    """Write the logs and truth.json into `out_dir` (start floored to a second); return the truth.

    With `ssh_lines`, auth.log is padded with background ssh traffic to exactly that many
    lines (when the scripted actors write fewer), taken out of the `lines` total.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if vhosts < 1:
        raise ValueError(f"vhosts must be at least 1, not {vhosts}")
    plan, names = _Plan(int(start), vhosts, seed), vhost_names(vhosts)
    scripted = [script(plan, names) for script in _SCRIPTS]
    requests = [sorted(t.requests, key=attrgetter("time")) for t in scripted if t.requests]
    processes = [process for t in scripted for process in t.processes]
    actors: tuple[Actor, ...] = ACTORS
    scripted_auth = sum(len(process.lines) for process in processes)
    if ssh_lines > scripted_auth:
        processes += _ssh_noise(plan, ssh_lines - scripted_auth)
        actors = (*ACTORS, SSH_NOISE)
    fixed = sum(map(len, requests)) + sum(len(process.lines) for process in processes)
    if lines - fixed < MIN_LEGIT_LINES:
        raise ValueError(f"{lines} lines are too few: the scripted actors alone write {fixed} "
                         f"lines; ask for at least {fixed + MIN_LEGIT_LINES}")
    out_dir.mkdir(parents=True, exist_ok=True)
    failures: dict[tuple[str, str], list[int]] = defaultdict(list)
    stream = heapq.merge(*requests, _legit(plan, names, lines - fixed), key=attrgetter("time"))
    written = _write_web(out_dir, names, stream, fmt, failures)
    written += _write_auth(out_dir / "auth.log", processes, plan.rng("pids"))
    for address, when in ssh_attempts(processes):
        failures["sshd", address].append(when)
    truth = _truth(plan, fmt, written, failures, actors)
    (out_dir / "truth.json").write_text(json.dumps(asdict(truth), indent=1) + "\n",
                                        encoding="utf-8")
    return truth


def load_truth(path: Path) -> Truth:
    """Read a truth.json written by `generate`."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return Truth(
        start=data["start"], end=data["end"], format=data["format"], lines=data["lines"],
        vhosts=data["vhosts"], window=data["window"],
        jails=tuple(JailRule(**rule) for rule in data["jails"]),
        bans=tuple(BanTruth(**ban) for ban in data["bans"]),
        actors=tuple(ActorTruth(**{**actor, "addresses": tuple(actor["addresses"])})
                     for actor in data["actors"]),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: generate into OUT_DIR and print a summary."""
    parser = argparse.ArgumentParser(prog="python -m bench.traffic", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    parser.add_argument("--lines", type=int, default=200_000, help="total lines (default 200000)")
    parser.add_argument("--vhosts", type=int, default=300, help="vhost logs (default 300)")
    parser.add_argument("--format", choices=FORMATS, default="hoster", dest="fmt")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ssh-lines", type=int, default=0, metavar="N",
                        help="pad auth.log with background ssh traffic to N lines (part of "
                             "--lines); default: the scripted actors only")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    try:
        truth = generate(args.out_dir, lines=args.lines, vhosts=args.vhosts, fmt=args.fmt,
                         seed=args.seed, ssh_lines=args.ssh_lines)
    except ValueError as error:
        parser.error(str(error))
    elapsed = time.perf_counter() - began
    print(f"{truth.lines} lines in {truth.vhosts} vhost logs and auth.log under {args.out_dir} "
          f"in {elapsed:.1f} s; {len(truth.bans)} bans expected (truth.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
