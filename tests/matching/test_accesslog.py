"""Tests of access-log parsing: known and custom formats, auto-detection, junk, injection."""

from __future__ import annotations

import base64
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from floodwall.errors import ConfigError
from floodwall.matching.accesslog import (
    KNOWN_FORMATS,
    AccessLogFormat,
    AccessRecord,
    AutoAccessParser,
    access_parser,
)

T = 1795320957.0  # 22/Nov/2026:04:15:57 +0000
STAMP = "[22/Nov/2026:04:15:57 +0000]"


def record(**changes: object) -> AccessRecord:
    """A record of a plain GET, with `changes` applied."""
    fields: dict[str, object] = {
        "client": "203.0.113.7", "time": T, "method": "GET", "target": "/", "path": "/",
        "protocol": "HTTP/1.1", "status": 200, "size": None, "referer": None, "user_agent": None,
        "vhost": None, "user": None}
    fields.update(changes)
    return AccessRecord(**fields)  # type: ignore[arg-type]


# Real lines in each known format, with the record each must give.
SAMPLES: dict[str, list[tuple[str, AccessRecord]]] = {
    "common": [
        (f'203.0.113.7 - - {STAMP} "GET /index.html HTTP/1.0" 200 2326',
         record(target="/index.html", path="/index.html", protocol="HTTP/1.0", size=2326)),
        (f'2001:db8::7 - frank {STAMP} "POST /login?next=%2F HTTP/1.1" 401 -',
         record(client="2001:db8::7", method="POST", target="/login?next=%2F", path="/login",
                status=401, user="frank")),
    ],
    "combined": [
        (('198.51.100.23 - - [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 '
         '"http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"'),
         record(client="198.51.100.23", time=971211336.0, target="/apache_pb.gif",
                path="/apache_pb.gif", protocol="HTTP/1.0", size=2326,
                referer="http://www.example.com/start.html",
                user_agent="Mozilla/4.08 [en] (Win98; I ;Nav)")),
        ((f'::ffff:192.0.2.5 - - {STAMP} "GET /wp-login.php HTTP/1.1" 404 196 "-" '
         '"Mozilla/5.0 (Windows NT 10.0; Win64; x64)"'),
         record(client="::ffff:192.0.2.5", target="/wp-login.php", path="/wp-login.php",
                status=404, size=196, user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64)")),
    ],
    "vhost_combined": [
        ((f'www.example.org:443 2001:db8:85a3::8a2e:370:7334 - - {STAMP} "GET /.env HTTP/2.0" '
         '404 437 "-" "curl/8.5.0"'),
         record(client="2001:db8:85a3::8a2e:370:7334", target="/.env", path="/.env",
                protocol="HTTP/2.0", status=404, size=437, user_agent="curl/8.5.0",
                vhost="www.example.org")),
    ],
    "hoster": [
        ((f'203.0.113.7 - - {STAMP} 512 5120 "GET /xmlrpc.php?rsd HTTP/1.1" 403 4890 '
         '"https://shop.example.net/" "Mozilla/5.0 (X11; Linux x86_64)" shop.example.net 443'),
         record(target="/xmlrpc.php?rsd", path="/xmlrpc.php", status=403, size=4890,
                referer="https://shop.example.net/", user_agent="Mozilla/5.0 (X11; Linux x86_64)",
                vhost="shop.example.net")),
        ((f'2a01:4f8:c17:1::2 - - {STAMP} 87 226 "\\x16\\x03\\x01\\x02" 400 - "-" "-" '
         'mail.example.net 80'),
         record(client="2a01:4f8:c17:1::2", method="", target="", path="", protocol="",
                status=400, vhost="mail.example.net")),
    ],
    "nginx_combined": [
        ((f'192.0.2.44 - admin {STAMP} "PROPFIND /remote.php/dav HTTP/1.1" 207 0 "-" '
         '"Mozilla/5.0 (Macintosh; Intel Mac OS X 13_2)"'),
         record(client="192.0.2.44", method="PROPFIND", target="/remote.php/dav",
                path="/remote.php/dav", status=207, size=0, user="admin",
                user_agent="Mozilla/5.0 (Macintosh; Intel Mac OS X 13_2)")),
    ],
}
ALL_SAMPLES = [(name, line, expected) for name, samples in SAMPLES.items()
               for line, expected in samples]


@pytest.mark.parametrize(("name", "line", "expected"), ALL_SAMPLES)
def test_known_format_parses_its_sample(name: str, line: str, expected: AccessRecord) -> None:
    assert KNOWN_FORMATS[name].parse(line) == expected


@pytest.mark.parametrize(("name", "line", "expected"), ALL_SAMPLES)
def test_auto_parses_every_sample(name: str, line: str, expected: AccessRecord) -> None:
    assert AutoAccessParser().parse(line) == expected


def test_auto_in_any_order_gives_the_right_format_for_each_line() -> None:
    # Whatever format fitted the line before, each line must get its own format's fields.
    lines = [(line, expected) for _name, line, expected in ALL_SAMPLES] * 4
    random.Random(7).shuffle(lines)
    parser = access_parser("auto")
    assert [parser.parse(line) for line, _ in lines] == [expected for _, expected in lines]


def test_known_formats_do_not_take_each_others_lines() -> None:
    for name, line, _expected in ALL_SAMPLES:
        fits = {other for other, fmt in KNOWN_FORMATS.items() if fmt.parse(line) is not None}
        # nginx's combined format is Apache's with the identity field written as "-".
        assert fits - {"combined", "nginx_combined"} == {name} - {"combined", "nginx_combined"}


# --- request lines -----------------------------------------------------------------------

@pytest.mark.parametrize(("request_line", "method", "target", "protocol"), [
    ("GET /a/b?x=1&y=2 HTTP/1.1", "GET", "/a/b?x=1&y=2", "HTTP/1.1"),
    ("GET /", "GET", "/", ""),
    ("GET /a b HTTP/1.1", "GET", "/a b", "HTTP/1.1"),
    ("CONNECT example.com:443 HTTP/1.1", "CONNECT", "example.com:443", "HTTP/1.1"),
    ("M-SEARCH * HTTP/1.1", "M-SEARCH", "*", "HTTP/1.1"),
    ("-", "", "", ""),
    ("", "", "", ""),
    ("\\x16\\x03\\x01\\x00\\xa5\\x01", "", "", ""),
    ("\\x16\\x03\\x01 \\x00", "", "", ""),
    ("get / HTTP/1.1", "", "", ""),
    ("GET  HTTP/1.1", "", "", ""),
    ("MGLNDD_203.0.113.1_443", "", "", ""),
    ("\ufffd\ufffd /x HTTP/1.1", "", "", ""),
])
def test_request_line_split(request_line: str, method: str, target: str,
                            protocol: str) -> None:
    line = f'203.0.113.7 - - {STAMP} "{request_line}" 400 0 "-" "-"'
    parsed = KNOWN_FORMATS["combined"].parse(line)
    assert parsed is not None
    assert (parsed.method, parsed.target, parsed.path, parsed.protocol, parsed.status) == (
        method, target, target.partition("?")[0], protocol, 400)


# --- junk never raises -------------------------------------------------------------------

GOOD = (f'203.0.113.7 - - {STAMP} "GET /x HTTP/1.1" 404 10 "https://r.example/" '
        '"Mozilla/5.0 (X11)"')


@pytest.mark.parametrize("line", [
    "", " ", "-", "\x00", GOOD + " extra", "!" + GOOD, " " + GOOD, GOOD.replace(" 404 ", " 4O4 "),
    GOOD.replace("203.0.113.7", "\ufffd03.0.113.7"), GOOD.replace("203.0.113.7", '"1.2.3.4"'),
    GOOD.replace("203.0.113.7", "host:80"), GOOD.replace("Nov", "Nvo"),
    GOOD.replace("22/Nov", "32/Nov"),
])
def test_lines_that_do_not_fit_give_none(line: str) -> None:
    for name, fmt in KNOWN_FORMATS.items():
        assert fmt.parse(line) is None, name
    assert AutoAccessParser().parse(line) is None


def test_every_truncation_of_a_line_is_none_or_keeps_the_client() -> None:
    combined, auto = KNOWN_FORMATS["combined"], AutoAccessParser()
    fitting = []
    for end in range(len(GOOD)):
        assert combined.parse(GOOD[:end]) is None, GOOD[:end]
        parsed = auto.parse(GOOD[:end])
        if parsed is not None:
            fitting.append((parsed.client, parsed.status, parsed.size))
    # Cut within or right after the size, a combined line is a complete common line.
    assert fitting == [("203.0.113.7", 404, 1), ("203.0.113.7", 404, 10)]


def test_replacement_characters_in_attacker_fields_still_parse() -> None:
    line = (f'203.0.113.7 - \ufffd\ufffd {STAMP} "GET /\ufffd\ufffd HTTP/1.1" 404 10 '
            '"\ufffd" "\ufffd\ufffd bot"')
    parsed = AutoAccessParser().parse(line)
    assert parsed is not None
    assert (parsed.client, parsed.user, parsed.path, parsed.user_agent) == (
        "203.0.113.7", "\ufffd\ufffd", "/\ufffd\ufffd", "\ufffd\ufffd bot")


@pytest.mark.parametrize("garbage", [
    "A" * 1_000_000,
    "1.2.3.4 " * 125_000,
    '" ' * 500_000,
    "\\" * 1_000_000,
    "1.2.3.4 - " + f"x {STAMP} " * 30_000,
    f'1.2.3.4 - - {STAMP} "' + "\\x" * 500_000,
    f'1.2.3.4 - - {STAMP} "GET / HTTP/1.1" 200 1 "' + '\\"' * 500_000,
    "".join(chr(random.Random(3).randrange(32, 0x3000)) for _ in range(300_000)),
])
def test_megabyte_garbage_gives_none(garbage: str) -> None:
    for fmt in KNOWN_FORMATS.values():
        assert fmt.parse(garbage) is None
    assert AutoAccessParser().parse(garbage) is None


# --- injection: the client is always the server's own first field ------------------------

INJECTIONS = [
    # (format, line, real client)
    ("combined", f'203.0.113.7 - - {STAMP} "GET /?ip=6.6.6.6\\"%20200 HTTP/1.1" 404 10 "-" "-"',
     "203.0.113.7"),
    ("nginx_combined",
     f'203.0.113.7 - - {STAMP} "GET /?ip=6.6.6.6\\x22%20200 HTTP/1.1" 404 10 "-" "-"',
     "203.0.113.7"),
    ("combined", f'203.0.113.7 - - {STAMP} "GET / HTTP/1.1" 404 10 "-" "\\" 1.2.3.4 - - ["',
     "203.0.113.7"),
    ("nginx_combined",
     f'203.0.113.7 - - {STAMP} "GET / HTTP/1.1" 404 10 "-" "\\x22 1.2.3.4 - - ["',
     "203.0.113.7"),
    ("combined", f'203.0.113.7 - 1.2.3.4 {STAMP} "GET / HTTP/1.1" 401 10 "-" "-"',
     "203.0.113.7"),
    ("combined", f'203.0.113.7 - 1.2.3.4 - - {STAMP} "GET / HTTP/1.1" 401 10 "-" "-"',
     "203.0.113.7"),
    ("vhost_combined",
     f'www.example.org:80 2001:db8::7 - x 6.6.6.6 - - {STAMP} "GET / HTTP/1.1" 401 1 "-" "-"',
     "2001:db8::7"),
    ("hoster",
     (f'203.0.113.7 - - {STAMP} 1 2 "GET / HTTP/1.1" 200 1 "6.6.6.6 - - {STAMP} 1 2 \\"GET '
     f'/ HTTP/1.1\\" 200 1 \\"-\\" \\"-\\" v 80" "-" www.example.org 80'), "203.0.113.7"),
]


@pytest.mark.parametrize(("name", "line", "client"), INJECTIONS)
def test_injected_addresses_never_become_the_client(name: str, line: str, client: str) -> None:
    for parser in (KNOWN_FORMATS[name], AutoAccessParser()):
        parsed = parser.parse(line)
        assert parsed is not None and parsed.client == client


def test_user_with_forged_fields_keeps_every_real_field() -> None:
    forged_user = f'6.6.6.6 {STAMP} \\"GET /ok HTTP/1.1\\" 200 1'
    line = (f'203.0.113.7 - {forged_user} [22/Nov/2026:04:16:00 +0000] "POST /login HTTP/1.1" '
            '401 381 "-" "hydra"')
    assert KNOWN_FORMATS["combined"].parse(line) == record(
        time=T + 3, method="POST", target="/login", path="/login", status=401, size=381,
        user_agent="hydra", user=forged_user)


@pytest.mark.parametrize(("written", "user"), [
    ("-", None), ('""', ""), ("admin", "admin"), ("a b  c", "a b  c"),
    ('\\"x\\" [y]', '\\"x\\" [y]'),
])
def test_user_names_as_servers_write_them(written: str, user: str | None) -> None:
    line = f'203.0.113.7 - {written} {STAMP} "GET / HTTP/1.1" 401 381 "-" "-"'
    for parser in (KNOWN_FORMATS["combined"], AutoAccessParser()):
        parsed = parser.parse(line)
        assert parsed is not None and (parsed.client, parsed.user) == ("203.0.113.7", user)


# --- custom formats ----------------------------------------------------------------------

def test_custom_apache_format_written_as_in_the_config_file() -> None:
    fmt = AccessLogFormat.apache(
        r'%a %{X-Forwarded-For}i %V \"%r\" %>s %B %D \"%{User-agent}i\" %{ssl}e %t %%')
    parsed = fmt.parse('2001:db8::7 10.0.0.1,10.0.0.2 www.example.org "HEAD / HTTP/1.1" 301 0 '
                       f'1234 "Go-http-client/1.1" TLSv1.3 {STAMP} %')
    assert parsed == record(client="2001:db8::7", method="HEAD", status=301, size=0,
                            user_agent="Go-http-client/1.1", vhost="www.example.org")
    assert fmt.name == "custom"


def test_custom_nginx_format_with_iso_time_and_upstream_lists() -> None:
    fmt = AccessLogFormat.nginx(
        '$remote_addr [$time_iso8601] $host "$request" $status $bytes_sent $request_time '
        '$upstream_response_time "$http_x_forwarded_for" ${http_cf_ray} $server_name',
        name="edge")
    line = ('203.0.113.7 [2026-11-22T04:15:57+00:00] api.example.org "GET /v1?q=1 HTTP/2.0" '
            '502 157 3.001 3.000, 0.001 : 0.000 "6.6.6.6, 7.7.7.7" 8f1e2d-AMS default')
    assert fmt.parse(line) == record(target="/v1?q=1", path="/v1", protocol="HTTP/2.0",
                                     status=502, size=157, vhost="api.example.org")
    assert fmt.name == "edge"


def test_nginx_msec_time() -> None:
    fmt = AccessLogFormat.nginx('$msec $remote_addr "$request" $status')
    assert fmt.parse('1795320957.250 203.0.113.7 "GET / HTTP/1.1" 200') == record(time=T + 0.25)


def test_access_parser_dispatch() -> None:
    assert access_parser("combined") is KNOWN_FORMATS["combined"]
    assert isinstance(access_parser("auto"), AutoAccessParser)
    nginx = access_parser('$remote_addr $time_local $status', kind="nginx")
    assert nginx.parse("203.0.113.7 22/Nov/2026:04:15:57 +0000 200") == record(
        method="", target="", path="", protocol="")
    apache = access_parser("%h %t %>s")
    assert apache.parse(f"203.0.113.7 {STAMP} 200") == record(
        method="", target="", path="", protocol="")


@pytest.mark.parametrize(("fmt", "kind", "named"), [
    ("%h %t %>s %Z", "apache", "%Z"),
    ("%h %{%Y-%m-%d}t %>s", "apache", "%{%Y-%m-%d}t"),
    ("%h %t %>s %", "apache", "'%'"),
    ("%h %t %>s %r", "apache", "%r"),
    ('"%h" %t %>s %{User-Agent}i', "apache", "%{User-Agent}i"),
    ('%h %l %u "%r" %>s', "apache", "time"),
    ("%t %>s", "apache", "client"),
    ("%h %t", "apache", "status"),
    ("$remote_addr $time_local $status $", "nginx", "'$'"),
    ("$remote_addr $time_local", "nginx", "status"),
    ("$remote_addr $time_local $status", "lighttpd", "lighttpd"),
])
def test_bad_formats_raise_config_error_naming_the_problem(fmt: str, kind: str,
                                                           named: str) -> None:
    with pytest.raises(ConfigError, match="log_format|format") as raised:
        access_parser(fmt, kind)
    assert named in str(raised.value)


# --- a real nginx writing the log --------------------------------------------------------

NGINX = shutil.which("nginx") or shutil.which("/usr/sbin/nginx")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture()
def nginx(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """An nginx on 127.0.0.1 logging combined lines to a file; yields (port, log path)."""
    if NGINX is None:
        pytest.skip("LOUD SKIP: nginx is not installed (apt-get install nginx)")
    port = free_port()
    log = tmp_path / "access.log"
    (tmp_path / "htpasswd").write_text("someone:$apr1$Xn3P0QtT$kt6Z8wHS1jOzYbCqEOVUU0\n")
    temp_paths = "\n".join(f"{what}_temp_path {tmp_path}/{what};"
                           for what in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (tmp_path / "nginx.conf").write_text(f"""
daemon off;
master_process off;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{ worker_connections 64; }}
http {{
    {temp_paths}
    access_log {log} combined;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 404; }}
        location /private {{ auth_basic "private"; auth_basic_user_file {tmp_path}/htpasswd; }}
    }}
}}
""")
    process = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
                                "-e", str(tmp_path / "error.log")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not start: {process.stderr.read()!r}"
                                       if process.stderr else "nginx did not start") from None
                time.sleep(0.05)
        yield port, log
    finally:
        process.terminate()
        process.wait(timeout=10)


def send_raw(port: int, data: bytes) -> None:
    """Send raw bytes to the server and read until it closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(data)
        for _ in range(1000):
            if not conn.recv(65536):
                break


def test_lines_written_by_a_real_nginx_keep_the_real_client(nginx: tuple[int, Path]) -> None:
    port, log = nginx
    basic = base64.b64encode(b"1.2.3.4 - - [x:secret").decode()
    requests = [
        b'GET /?ip=6.6.6.6"%20200 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n',
        (b'GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: " 1.2.3.4 - - [\r\nReferer: x" "y\\\r\n'
        b'Connection: close\r\n\r\n'),
        f"GET /private HTTP/1.1\r\nHost: a\r\nAuthorization: Basic {basic}\r\n"
        "Connection: close\r\n\r\n".encode(),
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n",
        "GET /caf\u00e9\xff HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".encode("latin-1"),
    ]
    for data in requests:
        send_raw(port, data)
    deadline = time.monotonic() + 10
    while len(lines := log.read_bytes().splitlines()) < len(requests):
        assert time.monotonic() < deadline, f"nginx logged only {lines!r}"
        time.sleep(0.05)
    parsed = [KNOWN_FORMATS["nginx_combined"].parse(line.decode("utf-8", "replace"))
              for line in lines]
    auto = AutoAccessParser()
    assert [auto.parse(line.decode("utf-8", "replace")) for line in lines] == parsed
    assert all(p is not None and p.client == "127.0.0.1" for p in parsed), lines
    assert [(p.method, p.target, p.status) for p in parsed if p] == [
        ("GET", "/?ip=6.6.6.6\\x22%20200", 404),
        ("GET", "/", 404),
        ("GET", "/private", 401),
        ("", "", 400),
        ("GET", "/caf\\xE9\\xFF", 404),
    ]
    assert parsed[1] is not None and parsed[1].user_agent == "\\x22 1.2.3.4 - - ["
    assert parsed[1].referer == "x\\x22 \\x22y\\x5C"
    assert parsed[2] is not None and parsed[2].user == "1.2.3.4 - - [x"
