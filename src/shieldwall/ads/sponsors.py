"""Sponsors as entities: one row per organisation, however many spellings and regulator ids it has.

A regulator id (FEC committee id, CNPJ/CPF, company register number, platform advertiser id) is the
strongest evidence two names are one sponsor; a shared normalised name key is the next. When an id
proves two existing sponsors are one, they are merged and every ad follows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from shieldwall.ads.bulk import bulk_insert
from shieldwall.ads.normalise import name_key
from shieldwall.ads.tables import (
    Ad,
    ReportedSpend,
    Sponsor,
    SponsorAlias,
    SponsorIdentifier,
    aliases_table,
    identifiers_table,
    sponsors_table,
)
from shieldwall.store.base import utcnow

ID_SCHEMES = {
    "fec": "FEC committee id",
    "cnpj": "CNPJ",
    "cpf": "CPF",
    "company_register": "company register number",
    "meta_page": "Meta page id",
    "google_advertiser": "Google advertiser id",
    "tax_id": "tax id",
}


def normalise_id(scheme: str, value: str) -> tuple[str, str]:
    scheme = scheme.strip().lower()
    value = value.strip()
    if scheme in ("cnpj", "cpf"):
        value = "".join(ch for ch in value if ch.isdigit())
    elif scheme == "fec":
        value = value.upper()
    return scheme, value


class SponsorResolver:
    """Resolves (name, ids) to sponsor ids within one session, caching what it has seen."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.by_key: dict[str, int] = {}
        self.by_identifier: dict[tuple[str, str], int] = {}
        self.merged: dict[int, int] = {}  # gone -> kept, for ids handed out before a merge
        self.memo: dict[tuple[str | None, tuple[tuple[str, str], ...]], int] = {}
        self.pending_sponsors: dict[int, dict[str, Any]] = {}
        self.pending_aliases: list[dict[str, Any]] = []
        self.pending_ids: list[dict[str, Any]] = []
        self.free_ids: list[int] = []
        self.next_sqlite_id: int | None = None

    def canonical(self, sponsor_id: int | None) -> int | None:
        while sponsor_id in self.merged:
            sponsor_id = self.merged[sponsor_id]
        return sponsor_id

    def prefetch(self, entities: Iterable[tuple[str | None, dict[str, str]]]) -> None:
        keys, identifiers = set(), set()
        for name, ids in entities:
            key = name_key(name)
            if key and key not in self.by_key:
                keys.add(key)
            identifiers |= {normalise_id(s, v) for s, v in ids.items() if v} - set(self.by_identifier)
        key_list = sorted(keys)
        for i in range(0, len(key_list), 5000):
            rows = self.session.execute(
                select(SponsorAlias.name_key, SponsorAlias.sponsor_id).where(
                    SponsorAlias.name_key.in_(key_list[i : i + 5000])
                )
            )
            self.by_key.update({k: s for k, s in rows})
        values = sorted({v for _, v in identifiers})
        for i in range(0, len(values), 5000):
            found: Any = self.session.execute(
                select(SponsorIdentifier.scheme, SponsorIdentifier.value, SponsorIdentifier.sponsor_id).where(
                    SponsorIdentifier.value.in_(values[i : i + 5000])
                )
            )
            self.by_identifier.update({(str(r[0]), str(r[1])): int(r[2]) for r in found})

    def resolve(self, name: str | None, ids: dict[str, str] | None = None, country: str | None = None) -> int | None:
        # Most ads repeat a sponsor already resolved in this session: answer those from memory.
        memo_key = (name, tuple(sorted((ids or {}).items())))
        known = self.memo.get(memo_key)
        if known is not None:
            return self.canonical(known)
        sponsor_id = self._resolve(name, ids, country)
        if sponsor_id is not None:
            self.memo[memo_key] = sponsor_id
        return sponsor_id

    def _resolve(self, name: str | None, ids: dict[str, str] | None, country: str | None) -> int | None:
        key = name_key(name)
        identifiers = [normalise_id(s, v) for s, v in (ids or {}).items() if v]
        if not key and not identifiers:
            return None
        by_id = next((self.by_identifier[i] for i in identifiers if i in self.by_identifier), None)
        by_name = self.by_key.get(key) if key else None
        if by_id is not None and by_name is not None and by_id != by_name:
            self.merge(keep=by_id, gone=by_name)
        sponsor_id = by_id or by_name
        if sponsor_id is None:
            sponsor_id = self._allocate_id()
            self.pending_sponsors[sponsor_id] = {
                "id": sponsor_id,
                "name": (name or identifiers[0][1]).strip()[:300],
                "country": country,
                "created_at": utcnow(),
            }
        if key and key not in self.by_key:
            self.pending_aliases.append(
                {"sponsor_id": sponsor_id, "name": (name or "").strip()[:300], "name_key": key[:300]}
            )
            self.by_key[key] = sponsor_id
        for scheme, value in identifiers:
            if (scheme, value) not in self.by_identifier:
                self.pending_ids.append({"sponsor_id": sponsor_id, "scheme": scheme, "value": value})
                self.by_identifier[(scheme, value)] = sponsor_id
        return sponsor_id

    def _allocate_id(self) -> int:
        """Ids handed out up front so new sponsors are written in one bulk insert, not one by one."""
        if not self.free_ids:
            if self.session.get_bind().dialect.name == "postgresql":
                rows = self.session.execute(text("SELECT nextval('ads_sponsors_id_seq') FROM generate_series(1, 256)"))
                self.free_ids = [r[0] for r in rows]
            else:
                # SQLite: one writer at a time, and this session's transaction holds the write lock.
                if self.next_sqlite_id is None:
                    self.next_sqlite_id = (self.session.scalar(select(func.max(Sponsor.id))) or 0) + 1
                self.free_ids = list(range(self.next_sqlite_id, self.next_sqlite_id + 256))
                self.next_sqlite_id += 256
        return self.free_ids.pop(0)

    def write_pending(self) -> None:
        """Bulk-insert the sponsors, names and ids created since the last call."""
        bulk_insert(self.session, sponsors_table, list(self.pending_sponsors.values()))
        bulk_insert(self.session, aliases_table, self.pending_aliases)
        bulk_insert(self.session, identifiers_table, self.pending_ids)
        self.pending_sponsors, self.pending_aliases, self.pending_ids = {}, [], []

    def merge(self, keep: int, gone: int) -> None:
        """Fold sponsor `gone` into `keep`: its names, ids and ads all point at `keep` afterwards."""
        for row in (*self.pending_aliases, *self.pending_ids):
            if row["sponsor_id"] == gone:
                row["sponsor_id"] = keep
        if gone in self.pending_sponsors:  # never written: nothing in the database to move
            del self.pending_sponsors[gone]
            self._forget(keep, gone)
            return
        self.write_pending()
        self.session.execute(update(SponsorAlias).where(SponsorAlias.sponsor_id == gone).values(sponsor_id=keep))
        self.session.execute(
            update(SponsorIdentifier).where(SponsorIdentifier.sponsor_id == gone).values(sponsor_id=keep)
        )
        for column in (Ad.sponsor_id, Ad.payer_sponsor_id, Ad.page_sponsor_id):
            self.session.execute(update(Ad).where(column == gone).values({column.key: keep}))
        for column in (ReportedSpend.sponsor_id, ReportedSpend.payer_sponsor_id):
            self.session.execute(update(ReportedSpend).where(column == gone).values({column.key: keep}))
        self.session.execute(delete(Sponsor).where(Sponsor.id == gone))
        self._forget(keep, gone)

    def _forget(self, keep: int, gone: int) -> None:
        self.merged[gone] = keep
        self.memo = {k: (keep if s == gone else s) for k, s in self.memo.items()}
        self.by_key = {k: (keep if s == gone else s) for k, s in self.by_key.items()}
        self.by_identifier = {k: (keep if s == gone else s) for k, s in self.by_identifier.items()}


def sponsor_names(session: Session, sponsor_id: int) -> list[str]:
    return list(session.scalars(select(SponsorAlias.name).where(SponsorAlias.sponsor_id == sponsor_id)))


def sponsor_identifiers(session: Session, sponsor_id: int) -> list[tuple[str, str]]:
    rows = session.execute(
        select(SponsorIdentifier.scheme, SponsorIdentifier.value).where(SponsorIdentifier.sponsor_id == sponsor_id)
    )
    return [(ID_SCHEMES.get(scheme, scheme), value) for scheme, value in rows]
