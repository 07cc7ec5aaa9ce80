"""Canonical URLs, so that trivially different links to the same page count as the same item.

Lower-case scheme and host, http and https treated alike, `www.` and default ports dropped, tracking
parameters (utm_*, fbclid, gclid...) removed, remaining parameters sorted, fragment and trailing
slash dropped. The same rules exist as a DuckDB macro (hot path) and in Python (tests, --explain);
the Spark engine builds the same expression from the same pieces.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

TRACKING_PARAMS = (
    r"utm_[a-z0-9_]*|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|mc_cid|mc_eid|igshid|_ga|_gl|"
    r"ref_src|ref_url|mkt_tok|trk|cmpid|s_cid|oly_enc_id|oly_anon_id|vero_id|__twitter_impression"
)
TRACKING_RE = f"^({TRACKING_PARAMS})(=|$)"
URL_RE = r"^([a-zA-Z][a-zA-Z0-9+.\-]*)://([^/?#]*)([^?#]*)(\?[^#]*)?"

DUCKDB_MACROS = f"""
CREATE OR REPLACE MACRO sw_url_parts(u) AS
  regexp_extract(CASE WHEN regexp_matches(trim(u), '^[a-zA-Z][a-zA-Z0-9+.\\-]*://') THEN trim(u)
                      ELSE 'http://' || trim(u) END,
                 '{URL_RE}', ['scheme', 'host', 'path', 'query']);
CREATE OR REPLACE MACRO sw_host(h) AS
  regexp_replace(regexp_replace(lower(h), '^www\\.', ''), ':(80|443)$', '');
CREATE OR REPLACE MACRO sw_canon_url(u) AS (
  WITH p AS (SELECT sw_url_parts(u) AS x)
  SELECT CASE WHEN u IS NULL OR trim(u) = '' THEN NULL ELSE
    'http://' || sw_host(x.host) || rtrim(x.path, '/') ||
    coalesce('?' || nullif(array_to_string(list_sort(list_filter(
        string_split(ltrim(x.query, '?'), '&'),
        lambda q: q <> '' AND NOT regexp_matches(lower(q), '{TRACKING_RE}'))), '&'), ''), '')
  END FROM p);
CREATE OR REPLACE MACRO sw_url_host(c) AS regexp_extract(c, '^http://([^/?#]*)', 1);
"""


def canonical_url(url: str) -> str | None:
    """The Python twin of the sw_canon_url macro."""
    url = url.strip()
    if not url:
        return None
    if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://", url):
        url = "http://" + url
    parts = urlsplit(url)
    host = re.sub(r":(80|443)$", "", re.sub(r"^www\.", "", parts.netloc.lower()))
    params = sorted(q for q in parts.query.split("&") if q and not re.match(TRACKING_RE, q.lower()))
    query = "?" + "&".join(params) if params else ""
    return f"http://{host}{parts.path.rstrip('/')}{query}"
