"""Content-Security-Policy: reading a policy, and suggesting one from what a page loads.

The suggestion starts from `default-src 'self'` and adds, per resource type, the origins
the page's HTML actually loads (scripts, styles, images, fonts, media, frames, forms,
preconnect/preload hints), hashes of inline `<script>`/`<style>` blocks, and
`'unsafe-hashes'` with hashes of inline event handlers, so that no `'unsafe-inline'` is
needed for scripts. Resources that only scripts or stylesheets request (fetch() calls,
fonts named in CSS) cannot be seen in the HTML: deploy the policy report-only first.
"""

from __future__ import annotations

import base64
import hashlib
from collections import defaultdict
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

SELF = "'self'"
NONE = "'none'"

# Directives written in this order; those not listed in _ALWAYS appear only when the page
# needs more than default-src 'self'.
_ORDER = ("default-src", "script-src", "style-src", "img-src", "font-src", "connect-src",
          "media-src", "frame-src", "manifest-src", "object-src", "base-uri", "form-action",
          "frame-ancestors")
# These do not fall back to default-src (or must be stricter than it), so they are always set.
_ALWAYS = {"object-src": NONE, "base-uri": SELF, "form-action": SELF, "frame-ancestors": SELF}
_NON_SCRIPT_TYPES = ("application/ld+json", "application/json", "text/template",
                     "text/x-template", "text/html", "text/plain")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_policy(text: str) -> dict[str, list[str]]:
    """Directives of one policy, names lower-cased; a repeated directive is ignored, as
    browsers do."""
    directives: dict[str, list[str]] = {}
    for part in text.split(";"):
        tokens = part.split()
        if tokens and tokens[0].lower() not in directives:
            directives[tokens[0].lower()] = tokens[1:]
    return directives


def policies(header_values: list[str]) -> list[dict[str, list[str]]]:
    """Every policy in the values of a CSP header (a value may hold several, comma-separated)."""
    return [parse_policy(text) for value in header_values for text in value.split(",")
            if text.strip()]


def suggest_policy(html: str, page_url: str) -> str:
    """A Content-Security-Policy allowing what the HTML of `page_url` loads, and no more."""
    collector = _Resources(page_url)
    collector.feed(html)
    collector.close()
    sources = collector.sources
    parts = []
    for directive in _ORDER:
        wanted = sorted(sources.get(directive, set()), key=_source_order)
        if directive == "default-src":
            parts.append(f"default-src {SELF}")
        elif directive in _ALWAYS:
            parts.append(f"{directive} {' '.join(wanted or [_ALWAYS[directive]])}")
        elif wanted and wanted != [SELF]:
            base = [] if SELF in wanted else [SELF]
            parts.append(f"{directive} {' '.join(base + wanted)}")
    return "; ".join(parts)


def _source_order(source: str) -> tuple[int, str]:
    """Keywords first, then hashes, then schemes and origins, each alphabetically."""
    if source in (SELF, NONE, "'unsafe-inline'", "'unsafe-hashes'"):
        return (0, source)
    if source.startswith("'"):
        return (1, source)
    return (2, source)


def _hash(text: str) -> str:
    """The CSP hash source of an inline script, style or handler."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


class _Resources(HTMLParser):
    """Collects, per CSP directive, the sources a page's HTML loads."""

    def __init__(self, page_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.base = page_url
        self.sources: dict[str, set[str]] = defaultdict(set)
        self._inline: str | None = None  # "script-src"/"style-src" while inside an inline block
        self._text: list[str] = []
        self._style_attributes = False
        self._style_hashes: set[str] = set()
        self._media_parent = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Record what a start tag loads."""
        attr = {name: value or "" for name, value in attrs}
        self._inline_attributes(attr)
        if tag == "base" and attr.get("href"):
            self.base = urljoin(self.page_url, attr["href"])
        elif tag == "script":
            self._script(attr)
        elif tag == "style":
            self._inline, self._text = "style-src", []
        elif tag == "link":
            self._link(attr)
        elif tag in ("img", "input"):
            self._add("img-src", attr.get("src"))
            self._add_srcset(attr.get("srcset"))
        elif tag in ("audio", "video"):
            self._media_parent = True
            self._add("media-src", attr.get("src"))
            self._add("img-src", attr.get("poster"))
        elif tag == "source":
            self._add("media-src" if self._media_parent else "img-src", attr.get("src"))
            self._add_srcset(attr.get("srcset"))
        elif tag == "track":
            self._add("media-src", attr.get("src"))
        elif tag in ("iframe", "frame"):
            self._add("frame-src", attr.get("src"))
        elif tag in ("object", "embed"):
            self._add("object-src", attr.get("data") or attr.get("src"))
        elif tag == "form":
            self._add("form-action", attr.get("action") or self.page_url)

    def handle_endtag(self, tag: str) -> None:
        """Hash the inline block that ends here."""
        if tag in ("audio", "video"):
            self._media_parent = False
        if self._inline and tag in ("script", "style"):
            text = "".join(self._text)
            if text.strip():
                if self._inline == "style-src":
                    self._style_hashes.add(_hash(text))
                else:
                    self.sources["script-src"].add(_hash(text))
            self._inline = None

    def handle_data(self, data: str) -> None:
        """Keep the text of an inline script or style block."""
        if self._inline:
            self._text.append(data)

    def close(self) -> None:
        """Finish: inline style attributes need 'unsafe-inline' (hashes would disable it)."""
        super().close()
        if self._style_attributes:
            self.sources["style-src"].add("'unsafe-inline'")
        else:
            self.sources["style-src"] |= self._style_hashes

    def _script(self, attr: dict[str, str]) -> None:
        kind = attr.get("type", "").lower()
        if kind in _NON_SCRIPT_TYPES:
            return
        if "src" in attr:
            self._add("script-src", attr["src"])
        else:
            self._inline, self._text = "script-src", []

    def _link(self, attr: dict[str, str]) -> None:
        rels = set(attr.get("rel", "").lower().split())
        href = attr.get("href")
        if "stylesheet" in rels:
            self._add("style-src", href)
        if rels & {"icon", "apple-touch-icon", "mask-icon"}:
            self._add("img-src", href)
        if "manifest" in rels:
            self._add("manifest-src", href)
        if "modulepreload" in rels:
            self._add("script-src", href)
        if rels & {"preconnect", "dns-prefetch"}:
            self._add("connect-src", href)
        if "preload" in rels:
            kinds = {"script": "script-src", "style": "style-src", "font": "font-src",
                     "image": "img-src", "fetch": "connect-src"}
            directive = kinds.get(attr.get("as", "").lower())
            if directive:
                self._add(directive, href)

    def _inline_attributes(self, attr: dict[str, str]) -> None:
        """Inline event handlers need hashes with 'unsafe-hashes'; style attributes are noted."""
        for name, value in attr.items():
            if name.startswith("on") and value.strip():
                self.sources["script-src"] |= {"'unsafe-hashes'", _hash(value)}
        if attr.get("style", "").strip():
            self._style_attributes = True

    def _add_srcset(self, srcset: str | None) -> None:
        for candidate in (srcset or "").split(","):
            words = candidate.split()
            if words:
                self._add("img-src", words[0])

    def _add(self, directive: str, reference: str | None) -> None:
        """Add the source expression that allows `reference` under `directive`."""
        if not reference or not reference.strip():
            return
        source = self._source(urljoin(self.base, reference.strip()))
        if source:
            self.sources[directive].add(source)

    def _source(self, url: str) -> str | None:
        """'self', a scheme (data:, blob:) or an origin for `url`; None when CSP ignores it."""
        parts, page = urlsplit(url), urlsplit(self.page_url)
        scheme = parts.scheme.lower()
        if scheme in ("data", "blob"):
            return f"{scheme}:"
        if scheme not in ("http", "https") or not parts.hostname:
            return None
        if _origin(parts.scheme, parts.hostname, parts.port) == _origin(
                page.scheme, page.hostname or "", page.port):
            return SELF
        port = parts.port
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        suffix = f":{port}" if port and port != _DEFAULT_PORTS[scheme] else ""
        return f"{scheme}://{host}{suffix}"


def _origin(scheme: str, host: str, port: int | None) -> tuple[str, str, int | None]:
    """An origin tuple with the default port filled in."""
    scheme = scheme.lower()
    return scheme, host.lower(), port or _DEFAULT_PORTS.get(scheme)
