"""TAXII 2.1 plumbing with the OASIS taxii2-client: open a bank's collection, remember the date cursor.

taxii2-client does not expose response headers, so a response hook on its requests session records
`X-TAXII-Date-Added-Last`, the server's own resume point for `added_after`.
"""

from __future__ import annotations

from typing import Any

from shieldwall.match.banks import bank_secret
from shieldwall.match.tables import Bank


class TaxiiError(RuntimeError):
    pass


class CursorRecorder:
    def __init__(self) -> None:
        self.last: str | None = None

    def __call__(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        value = response.headers.get("X-TAXII-Date-Added-Last")
        if value:
            self.last = value
        return response


def open_collection(bank: Bank, secret_key: str, token: str | None = None) -> tuple[Any, CursorRecorder]:
    """`secret_key` (the installation secret) opens the bank's sealed token; `token` overrides it."""
    from taxii2client.v21 import ApiRoot, Collection

    if not bank.taxii_api_root or not bank.taxii_collection:
        raise TaxiiError(f"bank {bank.name!r} has no TAXII source; set --taxii-api-root and --taxii-collection")
    secret = token or bank_secret(bank, "taxii_token", secret_key)
    auth = {"user": "token", "password": secret} if secret else {}
    root_url = bank.taxii_api_root.rstrip("/") + "/"
    recorder = CursorRecorder()
    root = None
    try:
        wanted = bank.taxii_collection
        collection = None
        root = ApiRoot(root_url, **auth)
        for candidate in root.collections:
            if wanted in (candidate.id, candidate.title, getattr(candidate, "_raw", {}).get("alias")):
                collection = Collection(candidate.url, conn=root._conn)
                break
        if collection is None:
            collection = Collection(f"{root_url}collections/{wanted}/", conn=root._conn)
    except Exception as error:  # requests and taxii2client raise many kinds; the message is what matters
        if root is not None:
            root.close()
        raise TaxiiError(f"cannot open TAXII collection {bank.taxii_collection!r} at {root_url}: {error}") from error
    collection._conn.session.hooks["response"].append(recorder)
    return collection, recorder
