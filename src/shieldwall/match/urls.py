"""Canonical URLs and domains, so the same link written differently is one signal.

The canonical form drops what does not change the content: the scheme (http and https are the same
page for matching), user info, default ports, a leading "www.", the fragment, tracking parameters and
a trailing slash; it lower-cases the host, IDNA-encodes it, and sorts the query. Registrable domains
come from the public-suffix list shipped inside the `publicsuffix2` package (never fetched at run time).
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import quote, unquote, urlsplit

TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "igshid", "mc_cid", "mc_eid", "ref_src", "ref_url", "yclid", "_hsenc"}
)
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_QUERY_SAFE = "=:@!$'()*+,;/?-._~"


class UrlError(ValueError):
    pass


def _is_tracking(name: str) -> bool:
    return name.startswith("utm_") or name in TRACKING_PARAMS


def canonical_host(host: str) -> str:
    host = host.strip().rstrip(".").lower()
    if not host:
        raise UrlError("empty host")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as error:
            raise UrlError(f"host {host!r} is not a valid international domain name") from error
    if " " in host or "/" in host:
        raise UrlError(f"host {host!r} is not a domain name")
    return host


def split_url(raw: str) -> tuple[str, str]:
    """(canonical URL, host as written but lower-cased) of a URL; bare 'example.com/x' is accepted."""
    text = raw.strip()
    if not text:
        raise UrlError("empty URL")
    if "://" not in text:
        text = "http://" + text.removeprefix("//")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise UrlError(f"not a URL: {raw!r} ({error})") from None
    if parts.scheme not in ("http", "https"):
        raise UrlError(f"only http and https URLs are matched, not {parts.scheme!r}")
    host = canonical_host(parts.hostname or "")
    short_host = host[4:] if host.startswith("www.") and host.count(".") > 1 else host
    netloc = short_host if port in (None, 80, 443) else f"{short_host}:{port}"
    path = parts.path
    if "%" in path or not path.isascii():
        path = quote(unquote(path), safe=_PATH_SAFE)
    if "/." in path:
        path = _remove_dot_segments(path)
    path = path.rstrip("/")
    query = parts.query
    if query:
        pairs = [p for p in query.split("&") if p and not _is_tracking(p.partition("=")[0].lower())]
        if "%" in query or not query.isascii():
            pairs = [quote(unquote(p), safe=_QUERY_SAFE) for p in pairs]
        query = "&".join(sorted(pairs))
    return (f"{netloc}{path}?{query}" if query else f"{netloc}{path}"), host


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
    """'a.b.example.com' -> ['a.b.example.com', 'b.example.com', 'example.com', 'com']."""
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


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
