"""Canonical URLs and domains, so the same link written differently is one signal.

The canonical form drops what does not change the content: the scheme (http and https are the same
page for matching), user info, default ports, a leading "www.", the fragment, tracking parameters and
a trailing slash; it lower-cases the host, IDNA-encodes it, and sorts the query. Registrable domains
come from the public-suffix list shipped inside the `publicsuffix2` package (never fetched at run time).
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import quote, unquote

TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "igshid", "mc_cid", "mc_eid", "ref_src", "ref_url", "yclid", "_hsenc"}
)
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_QUERY_SAFE = "=:@!$'()*+,;/?-._~"


class UrlError(ValueError):
    pass


def _is_tracking(name: str) -> bool:
    return name.startswith("utm_") or name in TRACKING_PARAMS


_URL = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?:[^@/?#]*@)?(?P<host>\[[^\]/?#]*\]|[^:/?#]*)"
    r"(?::(?P<port>[^/?#]*))?(?P<path>[^?#]*)(?:\?(?P<query>[^#]*))?(?:#.*)?",
    re.DOTALL,
)
# The usual shape (http(s), plain ASCII host, no port, user info or escapes): one match does the
# parsing and the validation, which is most of the cost of a lookup in a large bank.
_PLAIN_URL = re.compile(
    r"(?P<scheme>[Hh][Tt][Tt][Pp][Ss]?)://(?P<host>[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+)"
    r"(?P<path>/[A-Za-z0-9/._~!$&'()*+,;=:@-]*)?(?:\?(?P<query>[^#%]*))?(?:#.*)?",
    re.DOTALL,
)
_HOST = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*|\[[0-9a-f:.]+\]")
# DNS carries no longer name. Checked first: each parent domain is looked up as its own string, so a host of
# n labels costs O(n^2) (a 0.8 MB 'a.a.a...' took 27 s of a worker).
MAX_HOST_CHARS = 253


def _short_enough(host: str) -> str:
    if len(host) > MAX_HOST_CHARS:
        raise UrlError(f"host {host[:40]!r}... is {len(host):,} characters, over the {MAX_HOST_CHARS} of a domain name")
    return host


def canonical_host(host: str) -> str:
    host = _short_enough(host.strip().rstrip(".").lower())
    if not host:
        raise UrlError("empty host")
    if not host.isascii():
        try:
            host = _short_enough(host.encode("idna").decode("ascii"))
        except UnicodeError as error:
            raise UrlError(f"host {host!r} is not a valid international domain name") from error
    if _HOST.fullmatch(host) is None:
        raise UrlError(f"host {host!r} is not a domain name or IP address")
    return host


def split_url(raw: str) -> tuple[str, str]:
    """(canonical URL, host as written but lower-cased) of a URL; bare 'example.com/x' is accepted.

    A regular expression instead of urllib.parse.urlsplit: this runs once per lookup and the split is
    the same for the http(s) URLs we accept, at a third of the cost.
    """
    text = raw.strip()
    if not text:
        raise UrlError("empty URL")
    if "://" not in text:
        text = "http://" + text.removeprefix("//")
    plain = _PLAIN_URL.fullmatch(text)
    if plain is not None and (plain["query"] is None or plain["query"].isascii()):
        host = _short_enough(plain["host"].lower())
        short_host = host[4:] if host.startswith("www.") and host.count(".") > 1 else host
        return _joined(short_host, plain["path"] or "", plain["query"]), host
    parts = _URL.fullmatch(text)
    if parts is None:
        raise UrlError(f"not a URL: {raw!r}")
    scheme = parts["scheme"].lower()
    if scheme not in ("http", "https"):
        raise UrlError(f"only http and https URLs are matched, not {scheme!r}")
    host = canonical_host(parts["host"])
    short_host = host[4:] if host.startswith("www.") and host.count(".") > 1 else host
    port = parts["port"]
    if port:
        if not port.isdigit() or int(port) > 65535:
            raise UrlError(f"not a URL: {raw!r} (port {port!r} is not a number from 0 to 65535)")
        if int(port) not in (80, 443):
            short_host = f"{short_host}:{int(port)}"
    path = parts["path"]
    if "%" in path or not path.isascii():
        path = quote(unquote(path), safe=_PATH_SAFE)
    return _joined(short_host, path, parts["query"]), host


def _joined(short_host: str, path: str, query: str | None) -> str:
    """Host, path without dot segments or trailing slash, and the canonical query: the shared last step."""
    if "/." in path:
        path = _remove_dot_segments(path)
    path = path.rstrip("/")
    if query:
        query = _canonical_query(query)
    return f"{short_host}{path}?{query}" if query else f"{short_host}{path}"


def _canonical_query(query: str) -> str:
    if "&" not in query and "%" not in query and query.isascii():
        # One parameter, nothing to decode: the common case, kept cheap.
        return "" if _is_tracking(query.partition("=")[0].lower()) else query
    pairs = [p for p in query.split("&") if p and not _is_tracking(p.partition("=")[0].lower())]
    if "%" in query or not query.isascii():
        pairs = [quote(unquote(p), safe=_QUERY_SAFE) for p in pairs]
    pairs.sort()
    return "&".join(pairs)


def canonical_url(raw: str) -> str:
    return split_url(raw)[0]


def _remove_dot_segments(path: str) -> str:
    out: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if len(out) > 1:
                out.pop()
        elif segment != ".":
            out.append(segment)
    return "/".join(out)


def host_suffixes(host: str) -> list[str]:
    """'a.b.example.com' -> ['a.b.example.com', 'b.example.com', 'example.com'].

    The last label alone ('com') is left out: a bank never holds a bare top-level domain (public
    suffixes are refused at import), and each lookup in a million-entry table costs a cache miss.
    """
    out = [host]
    dot = host.find(".")
    last = host.rfind(".")
    while dot != -1 and dot != last:
        out.append(host[dot + 1 :])
        dot = host.find(".", dot + 1)
    return out


@lru_cache(maxsize=65536)
def registrable_domain(host: str) -> str:
    """The domain someone registered ('news.bbc.co.uk' -> 'bbc.co.uk'), from the shipped suffix list."""
    import publicsuffix2

    return str(publicsuffix2.get_sld(host, wildcard=True) or host)


def is_public_suffix(domain: str) -> bool:
    import publicsuffix2

    return bool(publicsuffix2.get_tld(domain, wildcard=True) == domain)


def canonical_domain(raw: str) -> str:
    """A domain signal: a bare domain or a URL whose host is taken; never a public suffix like 'co.uk'."""
    text = raw.strip()
    host = split_url(text)[1] if ("/" in text or ":" in text) else canonical_host(text)
    if "." not in host and not host.startswith("xn--"):
        raise UrlError(f"{raw!r} is not a domain name")
    if is_public_suffix(host):
        raise UrlError(f"{raw!r} is a public suffix, not a domain someone registered")
    return host
