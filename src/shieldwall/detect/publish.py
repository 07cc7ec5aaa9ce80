"""Send a STIX bundle to an exchange's TAXII 2.1 collection (POST .../collections/<id>/objects/)."""

from __future__ import annotations

from typing import Any

import httpx

TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"


class PublishError(RuntimeError):
    pass


def objects_url(url: str) -> str:
    """Accept the collection URL or its objects/ URL."""
    url = url if url.endswith("/") else url + "/"
    return url if url.endswith("/objects/") else url + "objects/"


def publish_bundle(bundle: dict[str, Any], url: str, token: str, *, timeout: float = 60.0) -> dict[str, Any]:
    """POST the bundle's objects as a TAXII envelope; returns the TAXII status resource."""
    headers = {"Accept": TAXII_MEDIA_TYPE, "Content-Type": TAXII_MEDIA_TYPE, "Authorization": f"Bearer {token}"}
    envelope = {"objects": bundle["objects"]}
    try:
        response = httpx.post(objects_url(url), json=envelope, headers=headers, timeout=timeout)
    except httpx.HTTPError as error:
        raise PublishError(f"could not reach {url}: {error}") from error
    if response.status_code not in (200, 201, 202):
        raise PublishError(f"the exchange answered {response.status_code}: {response.text[:300]}")
    result: dict[str, Any] = response.json()
    return result
