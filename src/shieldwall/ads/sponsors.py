"""Sponsors as entities: one row per organisation, however many spellings and regulator ids it has.

A regulator id (FEC committee id, CNPJ/CPF, company register number, platform advertiser id) is the
strongest evidence two names are one sponsor; a shared normalised name key is the next. When an id
proves two existing sponsors are one, they are merged and every ad follows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from shieldwall.ads.normalise import name_key
from shieldwall.ads.tables import Ad, Sponsor, SponsorAlias, SponsorIdentifier

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
            sponsor = Sponsor(name=(name or identifiers[0][1]).strip(), country=country)
            self.session.add(sponsor)
            self.session.flush()
            sponsor_id = sponsor.id
        if key and key not in self.by_key:
            self.session.add(SponsorAlias(sponsor_id=sponsor_id, name=(name or "").strip()[:300], name_key=key[:300]))
            self.by_key[key] = sponsor_id
        for scheme, value in identifiers:
            if (scheme, value) not in self.by_identifier:
                self.session.add(SponsorIdentifier(sponsor_id=sponsor_id, scheme=scheme, value=value))
                self.by_identifier[(scheme, value)] = sponsor_id
        return sponsor_id

    def merge(self, keep: int, gone: int) -> None:
        """Fold sponsor `gone` into `keep`: its names, ids and ads all point at `keep` afterwards."""
        self.session.flush()
        self.session.execute(update(SponsorAlias).where(SponsorAlias.sponsor_id == gone).values(sponsor_id=keep))
        self.session.execute(
            update(SponsorIdentifier).where(SponsorIdentifier.sponsor_id == gone).values(sponsor_id=keep)
        )
        for column in (Ad.sponsor_id, Ad.payer_sponsor_id, Ad.page_sponsor_id):
            self.session.execute(update(Ad).where(column == gone).values({column.key: keep}))
        self.session.execute(delete(Sponsor).where(Sponsor.id == gone))
        self.merged[gone] = keep
        self.by_key = {k: (keep if s == gone else s) for k, s in self.by_key.items()}
        self.by_identifier = {k: (keep if s == gone else s) for k, s in self.by_identifier.items()}


def sponsor_names(session: Session, sponsor_id: int) -> list[str]:
    return list(session.scalars(select(SponsorAlias.name).where(SponsorAlias.sponsor_id == sponsor_id)))


def sponsor_identifiers(session: Session, sponsor_id: int) -> list[tuple[str, str]]:
    rows = session.execute(
        select(SponsorIdentifier.scheme, SponsorIdentifier.value).where(SponsorIdentifier.sponsor_id == sponsor_id)
    )
    return [(ID_SCHEMES.get(scheme, scheme), value) for scheme, value in rows]
