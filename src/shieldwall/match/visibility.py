"""Who sees which match signal, decided by the exchange's policy rather than by a rule of match's own.

- A signal synced from this hub (`on_hub`) is shown only to those who may read its source object on the hub
  right now: `objects.latest_by_ids` for hits, and the same condition (`policy.visible_to` on the latest
  version) inside SQL for counts and the review queue.
- Any other signal (from a file, typed in, or synced from another TAXII server) belongs to its bank's owner
  organisation and keeps the TLP it came with: only the owner's members see it (a guest organisation CLEAR
  only) and RED only the member who created the bank (whose token or hand brought it in).
- The hub's own banks (no owner; set up by the operator at the console) publish their signals as the hub
  would with no audience: CLEAR to anyone, GREEN to members of member organisations, nothing stricter.

A bank is readable by its owner's members and by whoever may see at least one of its signals; nothing about
a hidden signal (value, name, id, bank, count) is ever shown. `principal=None` is the operator's console,
which reads the database directly and so sees everything.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select, true
from sqlalchemy.orm import Session

from shieldwall.exchange.objects import latest_by_ids, readable_latest
from shieldwall.exchange.policy import Principal
from shieldwall.match.tables import Bank, BankSignal, MatchRecord, ReviewItem
from shieldwall.stix.tlp import TLP

if TYPE_CHECKING:
    from shieldwall.match.service import ItemResult

_CHUNK = 500


def _bank_rule(principal: Principal, tlp: Any, bank_org: Any, bank_creator: Any) -> ColumnElement[bool]:
    """SQL: the principal may see a signal that belongs to its bank (not from this hub)."""
    clear = tlp == int(TLP.CLEAR)
    hub_bank = bank_org.is_(None)
    if not principal.is_authenticated or principal.org_id is None:
        return and_(hub_bank, clear)
    own = bank_org == principal.org_id
    if not principal.org_is_member:  # guests read CLEAR only, whoever owns the bank
        return and_(clear, or_(hub_bank, own))
    return or_(
        and_(hub_bank, tlp <= int(TLP.GREEN)),
        and_(own, or_(tlp < int(TLP.RED), bank_creator == principal.member_id)),
    )


def _hub_rule(principal: Principal, source_id: Any) -> ColumnElement[bool]:
    """SQL: the latest version of source_id on the hub is one the principal may read (as latest_by_ids)."""
    return readable_latest(principal, source_id)


def signal_visible(
    principal: Principal | None, *, source_id: Any, tlp: Any, on_hub: Any, bank_org: Any, bank_creator: Any
) -> ColumnElement[bool]:
    """SQL condition over any table that copies a signal (mat_signals, mat_matches) joined to its bank."""
    if principal is None:
        return true()
    return or_(
        and_(on_hub.is_(True), _hub_rule(principal, source_id)),
        and_(on_hub.is_(False), _bank_rule(principal, tlp, bank_org, bank_creator)),
    )


def _signal_rows(principal: Principal | None) -> ColumnElement[bool]:
    # One OR-ed condition: an index probe per signal. Split into two queries PostgreSQL may plan the hub
    # part as a semi-join, which is faster with fresh statistics but took 90 s instead of 2 s on 100,000
    # signals just after a bulk load (a nested loop without the index); SQLite is faster OR-ed as well.
    return signal_visible(
        principal,
        source_id=BankSignal.source_id,
        tlp=BankSignal.tlp,
        on_hub=BankSignal.on_hub,
        bank_org=Bank.org_id,
        bank_creator=Bank.created_by,
    )


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def keep_visible(session: Session, principal: Principal | None, results: Sequence[ItemResult]) -> None:
    """Drop, in place, every hit whose signal the principal may not read right now."""
    if principal is None:
        return
    hits = [hit for result in results for hit in result.matches]
    hub_ids = sorted({h.source_id for h in hits if h.on_hub and h.source_id})
    # latest_by_ids also audits reads of AMBER and stricter objects: a match shows derived content.
    readable = set(latest_by_ids(session, principal, hub_ids)) if hub_ids else set()
    own_ids = sorted({h.signal_id for h in hits if not h.on_hub})
    allowed: set[int] = set()
    for chunk in _chunks(own_ids):
        allowed.update(
            session.scalars(
                select(BankSignal.id)
                .join(Bank, Bank.id == BankSignal.bank_id)
                .where(
                    BankSignal.id.in_(chunk),
                    BankSignal.on_hub.is_(False),
                    _bank_rule(principal, BankSignal.tlp, Bank.org_id, Bank.created_by),
                )
            )
        )
    for result in results:
        result.matches = [
            h for h in result.matches if (h.source_id in readable if h.on_hub else h.signal_id in allowed)
        ]


def readable_banks(session: Session, principal: Principal | None) -> list[Bank]:
    """The banks the principal may know of, by name: its organisation's, and those with a signal it may see."""
    banks = list(session.scalars(select(Bank).order_by(Bank.name)))
    if principal is None:
        return banks
    mine = principal.org_id if principal.is_authenticated else None
    known = {b.id for b in banks if mine is not None and b.org_id == mine}
    others = [b.id for b in banks if b.id not in known]
    for chunk in _chunks(others):
        has_visible = exists(select(BankSignal.id).where(BankSignal.bank_id == Bank.id, _signal_rows(principal)))
        known.update(session.scalars(select(Bank.id).where(Bank.id.in_(chunk), has_visible)))
    return [b for b in banks if b.id in known]


def visible_counts(session: Session, principal: Principal | None, bank_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Signals per bank and type, counting only those the principal may see."""
    counts: dict[int, dict[str, int]] = {}
    for chunk in _chunks(list(bank_ids)):
        rows = session.execute(
            select(BankSignal.bank_id, BankSignal.signal_type, func.count())
            .join(Bank, Bank.id == BankSignal.bank_id)
            .where(BankSignal.bank_id.in_(chunk), _signal_rows(principal))
            .group_by(BankSignal.bank_id, BankSignal.signal_type)
        ).all()
        for bank_id, kind, n in rows:
            counts.setdefault(bank_id, {})[kind] = n
    return counts


def review_scope(principal: Principal) -> list[ColumnElement[bool]]:
    """Conditions on ReviewItem joined to MatchRecord and Bank: the items of the principal's organisation
    whose matched signal it may still read. Everything else is as if it did not exist."""
    if not principal.is_authenticated or principal.org_id is None:
        return [false()]
    return [
        ReviewItem.org_id == principal.org_id,
        signal_visible(
            principal,
            source_id=MatchRecord.source_id,
            tlp=MatchRecord.tlp,
            on_hub=MatchRecord.on_hub,
            bank_org=Bank.org_id,
            bank_creator=Bank.created_by,
        ),
    ]
