"""Domains that never match as domain signals: a bank entry 'bit.ly' or 'cloudfront.net' would flag half the web.

Sources, read from installed packages and never fetched:
- MISP warninglists, shipped in the `pymispwarninglists` package (maintained by the MISP project, updated
  with each release): `url-shortener`, `link-in-bio` and `tranco10k` (the 10,000 most-used sites by the
  Tranco research ranking).
- CDN delivery domains: MISP lists CDNs only as IP ranges, so `CDN_DOMAINS` below is curated here from the
  providers' own documentation of the host names they serve customer content from.

Only a domain signal equal to a listed domain (or to its `www.` form) is skipped; a URL signal on such a
domain (`bit.ly/3xYz`) and a subdomain signal (`d111.cloudfront.net`) are specific and still match. A bank
may turn this off (`bank set NAME --no-warninglist`).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

MISP_LISTS = ("url-shortener", "link-in-bio", "tranco10k")

CDN_DOMAINS = frozenset(
    {
        # Amazon CloudFront and S3, Akamai, Fastly, Cloudflare, Microsoft Azure CDN / Front Door, Google,
        # Meta, X/Twitter, StackPath/Highwinds, Limelight/Edgio, Bunny, KeyCDN, CDN77, jsDelivr, unpkg.
        "cloudfront.net",
        "amazonaws.com",
        "akamai.net",
        "akamaihd.net",
        "akamaized.net",
        "akamaiedge.net",
        "edgekey.net",
        "edgesuite.net",
        "fastly.net",
        "fastlylb.net",
        "cloudflare.net",
        "cdnjs.cloudflare.com",
        "r2.dev",
        "azureedge.net",
        "azurefd.net",
        "blob.core.windows.net",
        "googleusercontent.com",
        "gstatic.com",
        "ggpht.com",
        "googleapis.com",
        "fbcdn.net",
        "cdninstagram.com",
        "twimg.com",
        "stackpathdns.com",
        "stackpathcdn.com",
        "hwcdn.net",
        "llnwd.net",
        "edgecastcdn.net",
        "b-cdn.net",
        "kxcdn.com",
        "cdn77.org",
        "jsdelivr.net",
        "unpkg.com",
        "githubusercontent.com",
    }
)


def _misp_dir() -> Path | None:
    try:
        import pymispwarninglists
    except ImportError:  # the match extra installs it; without it only the curated list applies
        return None
    return Path(pymispwarninglists.__file__).parent / "data" / "misp-warninglists" / "lists"


@cache
def listed() -> dict[str, str]:
    """Every warninglisted domain -> the name of the list it comes from."""
    domains = {domain: "cdn" for domain in CDN_DOMAINS}
    base = _misp_dir()
    for name in MISP_LISTS if base is not None else ():
        path = base / name / "list.json"  # type: ignore[operator]
        if not path.is_file():
            continue
        for entry in json.loads(path.read_text(encoding="utf-8")).get("list", []):
            domain = str(entry).strip().lower().lstrip("*.").rstrip(".")
            if domain and "/" not in domain:
                domains.setdefault(domain, name)
    return domains


def warned(domain: str) -> str:
    """The list a canonical domain signal is on ('' when it is on none)."""
    table = listed()
    return table.get(domain) or table.get(domain.removeprefix("www.")) or table.get("www." + domain, "")
