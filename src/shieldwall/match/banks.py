"""Banks: create them, fill them from STIX indicators, and keep removal and expiry in step with the source.

Everything for one import happens in the caller's transaction, so a failed import leaves the bank as it was.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from shieldwall.exchange import outbound
from shieldwall.exchange.policy import Principal
from shieldwall.match.sealed import SealError, is_sealed, seal, unseal
from shieldwall.match.signals import Signal
from shieldwall.match.stix_signals import IndicatorSignals, indicators_in, read_indicator
from shieldwall.match.tables import Bank, BankSignal
from shieldwall.stix.tlp import TLP
from shieldwall.store.base import utcnow

BANK_OPTIONS = (
    "description",
    "pdq_threshold",
    "text_threshold",
    "taxii_api_root",
    "taxii_collection",
    "taxii_token",
    "label",
    "webhook_url",
    "webhook_secret",
    "review",
    "report_sightings",
    "negative",
    "warninglist",
    "flood_limit",
)
# Stored sealed (see sealed.py): usable by us, unreadable from the database alone.
SECRET_FIELDS = ("taxii_token", "webhook_secret")
MAX_WEBHOOK_SECRET_BYTES = 64
_CHUNK = 500


class BankError(ValueError):
    pass


class BankNotFound(BankError):
    """The bank does not exist, or the caller may not know it does (answered as 404)."""


class BankForbidden(BankError):
    """The caller may read the bank but not change it (answered as 403)."""


@dataclass
class ImportReport:
    indicators: int = 0
    other_objects: int = 0
    added: int = 0
    removed: int = 0
    unchanged: int = 0
    revoked: int = 0
    expired: int = 0
    stale: int = 0  # an older version than the one the bank already has
    errors: list[str] = field(default_factory=list)

    def merge(self, other: ImportReport) -> None:
        for name in ("indicators", "other_objects", "added", "removed", "unchanged", "revoked", "expired", "stale"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors += other.errors

    def summary(self) -> str:
        return (
            f"{self.indicators} indicators: {self.added} signals added, {self.removed} removed, "
            f"{self.unchanged} unchanged, {self.revoked} revoked, {self.expired} expired, "
            f"{self.stale} older versions ignored, {len(self.errors)} unsupported"
        )


def value_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def create_bank(
    session: Session, name: str, *, owner: Principal | None = None, secret_key: str | None = None, **options: Any
) -> Bank:
    """A bank owned by `owner`'s organisation; without an owner, one of the hub's own (the operator's console)."""
    if owner is not None and not owner.can_write:
        raise BankForbidden(f"{owner.email or 'this account'} may not create banks (needs the analyst or admin role)")
    name = name.strip()
    if not name or len(name) > 100 or any(c in name for c in "/\\?#"):
        raise BankError(f"bank name {name!r} must be 1-100 characters without / \\ ? #")
    if session.scalar(select(Bank.id).where(Bank.name == name)) is not None:
        raise BankError(f"a bank named {name!r} already exists")
    bank = Bank(name=name, org_id=owner.org_id if owner else None, created_by=owner.member_id if owner else None)
    configure_bank(bank, secret_key=secret_key, **options)
    session.add(bank)
    session.flush()
    return bank


def configure_bank(bank: Bank, *, secret_key: str | None = None, **options: Any) -> None:
    """Set options; secrets are sealed with `secret_key` (the installation secret), which they then need."""
    unknown = set(options) - set(BANK_OPTIONS)
    if unknown:
        raise BankError(f"unknown bank options: {', '.join(sorted(unknown))}")
    if not secret_key and any(options.get(key) for key in SECRET_FIELDS):
        raise BankError(f"bank {bank.name!r}: secrets are stored encrypted; configure_bank needs the secret_key")
    for key, value in options.items():
        if value is not None:
            setattr(bank, key, _sealed(bank, key, value, secret_key) if key in SECRET_FIELDS and value else value)
    if secret_key:
        reseal(bank, secret_key)  # plain-text secrets left from before sealing existed: sealed on this write
    if bank.pdq_threshold is not None and not 0 <= bank.pdq_threshold <= 47:
        raise BankError("pdq_threshold must be between 0 and 47 bits")
    if bank.text_threshold is not None and not 0.0 < bank.text_threshold <= 1.0:
        raise BankError("text_threshold must be in (0, 1]")
    if bank.flood_limit is not None and not 0 <= bank.flood_limit <= 10_000_000:
        raise BankError("flood_limit must be between 0 (never hold) and 10,000,000 distinct items an hour")
    # Well-formed now (no lookup here: the address is checked on every request, see exchange/outbound.py).
    for key in ("webhook_url", "taxii_api_root"):
        value = getattr(bank, key) or ""
        if value:
            try:
                outbound.parse_target(value)
            except outbound.OutboundRefused as error:
                raise BankError(f"{key.replace('_', ' ')} {value!r}: {error}") from None


def reseal(bank: Bank, secret_key: str) -> list[str]:
    """Seal the bank's plain-text secrets (rows written before sealing); returns the fields it sealed."""
    sealed = []
    for key in SECRET_FIELDS:
        value = getattr(bank, key) or ""
        if value and not is_sealed(value):
            setattr(bank, key, _sealed(bank, key, value, secret_key))
            sealed.append(key)
    return sealed


def _sealed(bank: Bank, key: str, plaintext: str, secret_key: str | None) -> str:
    # The sealed webhook key must fit its String(200) column: Fernet turns 64 bytes into 194 characters.
    if key == "webhook_secret" and len(plaintext.encode()) > MAX_WEBHOOK_SECRET_BYTES:
        raise BankError(f"bank {bank.name!r}: webhook_secret must be at most {MAX_WEBHOOK_SECRET_BYTES} bytes")
    return seal(secret_key or "", plaintext)


def bank_secret(bank: Bank, key: str, secret_key: str) -> str:
    """A bank's secret in plain text for use right now; a clear error if this installation cannot open it."""
    try:
        return unseal(secret_key, getattr(bank, key) or "")
    except SealError as error:
        option = "--" + key.replace("_", "-")
        raise BankError(
            f"bank {bank.name!r}: the stored {key} {error} (was secret.key in the data dir replaced or "
            f"SHIELDWALL_SECRET_KEY changed?); set it again with `shieldwall match bank set {bank.name} {option} ...`"
        ) from None


def get_bank(session: Session, name: str) -> Bank:
    bank = session.scalar(select(Bank).where(Bank.name == name))
    if bank is None:
        names = ", ".join(session.scalars(select(Bank.name).order_by(Bank.name))) or "none yet"
        raise BankError(f"no bank named {name!r} (banks: {names})")
    return bank


def bank_for(session: Session, principal: Principal | None, name: str, *, change: bool = False) -> Bank:
    """The bank named `name` as `principal` may use it (None: the operator's console, which may do anything).

    A bank the principal may not read is reported exactly like one that does not exist; only the owner
    organisation's writers change it (the hub's own banks change only at the console)."""
    if principal is None:
        return get_bank(session, name)
    from shieldwall.match.visibility import readable_banks

    readable = {bank.name: bank for bank in readable_banks(session, principal)}
    bank = readable.get(name)
    if bank is None:
        raise BankNotFound(f"no bank named {name!r} (banks: {', '.join(sorted(readable)) or 'none yet'})")
    if change and not (principal.can_write and bank.org_id is not None and bank.org_id == principal.org_id):
        raise BankForbidden(f"bank {name!r} may be changed only by its organisation's analysts and admins")
    return bank


def bank_counts(session: Session) -> dict[int, dict[str, int]]:
    rows = session.execute(
        select(BankSignal.bank_id, BankSignal.signal_type, func.count()).group_by(
            BankSignal.bank_id, BankSignal.signal_type
        )
    ).all()
    counts: dict[int, dict[str, int]] = {}
    for bank_id, kind, n in rows:
        counts.setdefault(bank_id, {})[kind] = n
    return counts


def apply_indicators(
    session: Session,
    bank: Bank,
    objects: list[dict[str, Any]],
    *,
    default_tlp: TLP = TLP.AMBER,
    now: datetime | None = None,
    on_hub: bool = False,
) -> ImportReport:
    """Add, replace or remove the signals of these indicators (newest version of each wins).

    `on_hub`: they come from this hub's own TAXII server, so the hub's policy decides who sees them."""
    now = now or utcnow()
    report = ImportReport(indicators=len(objects))
    latest: dict[str, IndicatorSignals] = {}
    for obj in objects:
        parsed = read_indicator(obj, default_tlp)
        if not parsed.source_id.startswith("indicator--"):
            report.errors.append(f"object without an indicator id: {json.dumps(obj)[:80]}")
            continue
        seen = latest.get(parsed.source_id)
        if seen is None or parsed.modified >= seen.modified:
            latest[parsed.source_id] = parsed
    held = _held_versions(session, bank.id, list(latest))
    replace_ids: list[str] = []
    unchanged_ids: list[str] = []
    rows: list[dict[str, Any]] = []
    for source_id, parsed in latest.items():
        if source_id in held and held[source_id] > parsed.modified:
            report.stale += 1
            continue
        if parsed.error:
            report.errors.append(f"{source_id}: {parsed.error}")
            continue
        if parsed.revoked or (parsed.valid_until is not None and parsed.valid_until <= now):
            report.revoked += parsed.revoked
            report.expired += not parsed.revoked
            if source_id in held:
                replace_ids.append(source_id)
            continue
        if source_id in held and held[source_id] == parsed.modified:
            report.unchanged += len(parsed.signals)
            unchanged_ids.append(source_id)
            continue
        if source_id in held:
            replace_ids.append(source_id)
        rows += [
            {
                "bank_id": bank.id,
                "signal_type": s.type.value,
                "value": s.value,
                "value_hash": value_hash(s.value),
                "source_id": source_id,
                "source_modified": parsed.modified,
                "tlp": int(parsed.tlp),
                "valid_until": parsed.valid_until,
                "name": s.name,
                "added_at": now,
                "on_hub": on_hub,
            }
            for s in parsed.signals
        ]
    report.removed = remove_sources(session, bank, replace_ids, bump=False)
    if rows:
        session.execute(insert(BankSignal), rows)
    report.added = len(rows)
    # The same version from another source (a hub bank's signals synced again after they were imported from
    # a file, or ones synced before provenance was recorded) takes that source's provenance.
    moved = _set_provenance(session, bank.id, unchanged_ids, on_hub)
    if report.removed or report.added or moved:
        _bump(session, bank)
    return report


def _set_provenance(session: Session, bank_id: int, source_ids: list[str], on_hub: bool) -> int:
    moved = 0
    for start in range(0, len(source_ids), _CHUNK):
        result = session.execute(
            update(BankSignal)
            .where(
                BankSignal.bank_id == bank_id,
                BankSignal.source_id.in_(source_ids[start : start + _CHUNK]),
                BankSignal.on_hub.is_not(on_hub),
            )
            .values(on_hub=on_hub)
        )
        moved += int(getattr(result, "rowcount", 0) or 0)
    return moved


def _held_versions(session: Session, bank_id: int, source_ids: list[str]) -> dict[str, str]:
    held: dict[str, str] = {}
    for start in range(0, len(source_ids), _CHUNK):
        chunk = source_ids[start : start + _CHUNK]
        query = (
            select(BankSignal.source_id, func.max(BankSignal.source_modified))
            .where(BankSignal.bank_id == bank_id, BankSignal.source_id.in_(chunk))
            .group_by(BankSignal.source_id)
        )
        for source_id, modified in session.execute(query):
            held[source_id] = modified
    return held


def remove_sources(session: Session, bank: Bank, source_ids: list[str], *, bump: bool = True) -> int:
    removed = 0
    for start in range(0, len(source_ids), _CHUNK):
        chunk = source_ids[start : start + _CHUNK]
        result = session.execute(
            delete(BankSignal).where(BankSignal.bank_id == bank.id, BankSignal.source_id.in_(chunk))
        )
        removed += int(getattr(result, "rowcount", 0) or 0)
    if removed and bump:
        _bump(session, bank)
    return removed


def remove_sources_not_in(session: Session, bank: Bank, keep: set[str]) -> int:
    """Drop signals whose source object the source no longer shows (deleted or no longer shared with us)."""
    held = set(session.scalars(select(BankSignal.source_id).where(BankSignal.bank_id == bank.id).distinct()))
    gone = sorted(s for s in held - keep if s)
    return remove_sources(session, bank, gone)


def purge_expired(session: Session, bank: Bank, now: datetime | None = None) -> int:
    result = session.execute(
        delete(BankSignal).where(
            BankSignal.bank_id == bank.id,
            BankSignal.valid_until.is_not(None),
            BankSignal.valid_until <= (now or utcnow()),
        )
    )
    removed = int(getattr(result, "rowcount", 0) or 0)
    if removed:
        _bump(session, bank)
    return removed


def _bump(session: Session, bank: Bank) -> None:
    session.execute(update(Bank).where(Bank.id == bank.id).values(revision=Bank.revision + 1))
    session.refresh(bank, ["revision"])


def add_signals(
    session: Session, bank: Bank, signals: list[Signal], *, tlp: TLP, name: str = "", now: datetime | None = None
) -> int:
    """Signals entered by hand or from a plain list (no STIX source); ones the bank already has are skipped."""
    now = now or utcnow()
    wanted = {(s.type.value, value_hash(s.value)): s for s in signals}
    held: set[tuple[str, str]] = set()
    keys = [k[1] for k in wanted]
    for start in range(0, len(keys), _CHUNK):
        held.update(
            (kind, digest)
            for kind, digest in session.execute(
                select(BankSignal.signal_type, BankSignal.value_hash).where(
                    BankSignal.bank_id == bank.id,
                    BankSignal.source_id == "",
                    BankSignal.value_hash.in_(keys[start : start + _CHUNK]),
                )
            )
        )
    rows = [
        {
            "bank_id": bank.id,
            "signal_type": s.type.value,
            "value": s.value,
            "value_hash": digest,
            "source_id": "",
            "source_modified": "",
            "tlp": int(tlp),
            "valid_until": None,
            "name": s.name or name,
            "added_at": now,
            "on_hub": False,
        }
        for (kind, digest), s in wanted.items()
        if (kind, digest) not in held
    ]
    if rows:
        session.execute(insert(BankSignal), rows)
        _bump(session, bank)
    return len(rows)


def import_stix_file(
    session: Session, bank: Bank, path: Path, *, default_tlp: TLP = TLP.AMBER, now: datetime | None = None
) -> ImportReport:
    try:
        document = orjson.loads(Path(path).read_bytes())  # strict: no NaN or lone surrogates
    except FileNotFoundError:
        raise BankError(f"{path}: no such file") from None
    except OSError as error:  # a directory, no permission
        raise BankError(f"{path}: cannot read it ({error.strerror or error})") from None
    except json.JSONDecodeError as error:  # orjson's errors are these, invalid UTF-8 included
        raise BankError(f"{path}: not a JSON STIX document ({error})") from None
    try:
        indicators, others = indicators_in(document)
    except ValueError as error:
        raise BankError(f"{path}: {error}") from None
    report = apply_indicators(session, bank, indicators, default_tlp=default_tlp, now=now)
    report.other_objects = others
    report.removed += purge_expired(session, bank, now)
    return report
