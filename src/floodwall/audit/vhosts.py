"""The sites a web server hosts, read from its nginx or Apache configuration directory.

nginx: every `server { … }` block (outside `stream`/`mail`) gives its `server_name`s, with
the scheme and port of each `listen` (`ssl` means HTTPS; no `listen` means port 80).
Apache: every `<VirtualHost addr:port>` gives its `ServerName` and `ServerAlias`es
(`SSLEngine on` or port 443 means HTTPS). Names that cannot be fetched (`_`, regular
expressions, wildcards) are skipped. `*-available` directories are skipped when their
`*-enabled` twin exists, so disabled sites are not audited.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from floodwall.errors import ConfigError

DEFAULT_CONFIG_DIRS = ("/etc/nginx", "/etc/apache2", "/etc/httpd")
"""Where --vhosts looks when no directory is given."""

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Vhost:
    """A site name served on one scheme and port."""

    name: str
    """Host name, as in server_name / ServerName / ServerAlias."""
    scheme: str
    """'http' or 'https'."""
    port: int
    """TCP port the server listens on for it."""
    path: str
    """Configuration file that declares it."""
    line: int
    """Line of the declaration."""

    @property
    def url(self) -> str:
        """The URL that reaches the site's home page."""
        port = "" if self.port == _DEFAULT_PORTS[self.scheme] else f":{self.port}"
        return f"{self.scheme}://{self.name}{port}/"


def find_vhosts(config_dir: str | os.PathLike[str]) -> list[Vhost]:
    """Every fetchable vhost in the nginx or Apache configuration under `config_dir`,
    deduplicated by URL, in file order."""
    root = Path(config_dir)
    if not root.is_dir():
        raise ConfigError("not a directory: pass the nginx or Apache configuration "
                          "directory (like /etc/nginx)", path=str(root))
    found: dict[str, Vhost] = {}
    for path in _config_files(root):
        text = path.read_text(encoding="utf-8", errors="replace")
        apache = re.search(r"<VirtualHost\b", text, re.IGNORECASE)
        parse = _apache_vhosts if apache else _nginx_vhosts
        for vhost in parse(text, str(path)):
            found.setdefault(vhost.url, vhost)
    return list(found.values())


def default_config_dir() -> str:
    """The first web server configuration directory that exists on this host."""
    for candidate in DEFAULT_CONFIG_DIRS:
        if os.path.isdir(candidate):
            return candidate
    raise ConfigError(f"none of {', '.join(DEFAULT_CONFIG_DIRS)} exists: pass the nginx or "
                      "Apache configuration directory with --config-dir")


def _config_files(root: Path) -> Iterator[Path]:
    """Regular files under `root`, sorted, without disabled `*-available` directories."""
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not (
            d.endswith("-available") and d.removesuffix("-available") + "-enabled" in subdirs))
        for name in sorted(files):
            path = Path(directory, name)
            if path.is_file():
                yield path


def _fetchable(name: str) -> str | None:
    """The name to fetch for a declared server name, or None when it names no one host."""
    name = name.strip().strip('"').lower()
    name = name.removeprefix(".")
    if not name or name == "_" or name.startswith("~") or "*" in name or "$" in name:
        return None
    return name


# --- nginx ---------------------------------------------------------------------------

_NGINX_TOKEN = re.compile(r"""
      (?P<comment>\#[^\n]*)
    | "(?P<dquoted>(?:\\.|[^"\\])*)"
    | '(?P<squoted>(?:\\.|[^'\\])*)'
    | (?P<punct>[{};])
    | (?P<word>(?:\$\{[^}]*\}|[^\s{};"'])+)
    | (?P<space>\s+)
    """, re.VERBOSE)


def _nginx_tokens(text: str) -> Iterator[tuple[str, int]]:
    """(token, line) pairs; punctuation comes back as itself, quotes are removed."""
    line = 1
    for match in _NGINX_TOKEN.finditer(text):
        kind = match.lastgroup
        if kind == "punct":
            yield match.group(), line
        elif kind in ("word", "dquoted", "squoted"):
            yield match.group(kind or ""), line
        line += match.group().count("\n")


def _nginx_vhosts(text: str, path: str) -> Iterator[Vhost]:
    """Vhosts of the nginx `server` blocks in one file."""
    stack: list[str] = []
    words: list[str] = []
    server: dict[str, list[tuple[list[str], int]]] | None = None
    start = 1
    for token, line in _nginx_tokens(text):
        if not words:
            start = line
        if token == "{":
            name = words[0] if words else ""
            stack.append(name)
            if name == "server" and not {"stream", "mail"} & set(stack[:-1]):
                server = {"listen": [], "server_name": []}
            words = []
        elif token == "}":
            if stack and stack.pop() == "server" and server is not None:
                yield from _nginx_server(server, path)
                server = None
            words = []
        elif token == ";":
            if server is not None and stack and stack[-1] == "server" and words \
                    and words[0] in server:
                server[words[0]].append((words[1:], start))
            words = []
        else:
            words.append(token)


def _nginx_server(server: dict[str, list[tuple[list[str], int]]], path: str) -> Iterator[Vhost]:
    """Vhosts of one server block: each name on each listening scheme and port."""
    listens = [_nginx_listen(args) for args, _ in server["listen"]] or [("http", 80)]
    for args, line in server["server_name"]:
        for declared in args:
            name = _fetchable(declared)
            if name is None:
                continue
            for scheme, port in listens:
                if scheme:
                    yield Vhost(name, scheme, port, path, line)


def _nginx_listen(args: list[str]) -> tuple[str, int]:
    """(scheme, port) of a listen directive; scheme '' for unix sockets."""
    if not args or args[0].startswith("unix:"):
        return "", 0
    scheme = "https" if {"ssl", "quic"} & set(args[1:]) else "http"
    address = args[0]
    if address.startswith("["):  # [::]:443, or [::1] alone
        port_text = address.partition("]")[2].lstrip(":")
    elif ":" in address:  # 127.0.0.1:8080, *:80
        port_text = address.rsplit(":", 1)[1]
    else:  # 8080, or a host name alone
        port_text = address
    return scheme, int(port_text) if port_text.isdigit() else _DEFAULT_PORTS[scheme]


# --- Apache --------------------------------------------------------------------------

def _apache_vhosts(text: str, path: str) -> Iterator[Vhost]:
    """Vhosts of the `<VirtualHost>` sections in one file."""
    port, tls = 0, False
    names: list[tuple[str, int]] = []
    inside = False
    for line, words in _apache_directives(text):
        keyword = words[0].lower()
        if keyword == "<virtualhost":
            inside, names, tls = True, [], False
            address = words[1].rstrip(">") if len(words) > 1 else "*:80"
            port_text = address.rsplit(":", 1)[-1] if ":" in address else "80"
            port = int(port_text) if port_text.isdigit() else 80
        elif keyword == "</virtualhost>" and inside:
            inside = False
            scheme = "https" if tls or port == 443 else "http"
            for host, at in names:
                yield Vhost(host, scheme, port, path, at)
        elif inside and keyword in ("servername", "serveralias"):
            declared = words[1:2] if keyword == "servername" else words[1:]
            for word in declared:
                host = re.sub(r"^\w+://", "", word).split(":")[0]
                fetchable = _fetchable(host)
                if fetchable is not None:
                    names.append((fetchable, line))
        elif inside and keyword == "sslengine":
            tls = len(words) > 1 and words[1].lower() == "on"


def _apache_directives(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line, words) of each directive, continuation lines joined, comments skipped."""
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        full, pending = (pending + raw).strip(), ""
        if full and not full.startswith("#"):
            yield start, full.split()
