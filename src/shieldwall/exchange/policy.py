"""The sharing rule, in one place. Every read path (TAXII, REST, pages, exports, search) filters with it.

TLP 2.0 on the hub:
- CLEAR: anyone, including visitors who are not signed in.
- GREEN: every member of a member organisation (guest organisations see only CLEAR, whatever a sharer names).
- AMBER: the organisations and trust groups it was shared with (group membership read at query time).
- AMBER+STRICT: only the organisations named as recipients (a trust group named at sharing time is
  expanded then into its organisations; later joiners do not see it).
- RED: only the individual members named as recipients.
The publishing organisation sees what it published under its own name up to AMBER+STRICT; an anonymous
submission has no publisher on record, so its source gains nothing from being able to read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, exists, false, or_, select

from shieldwall.exchange.tables import ObjectAudience, StixObject
from shieldwall.stix.tlp import TLP


@dataclass(frozen=True)
class Principal:
    """Who is asking. An anonymous visitor has no member and no organisation."""

    member_id: int | None = None
    org_id: int | None = None
    org_is_member: bool = False
    trust_group_ids: frozenset[int] = field(default_factory=frozenset)
    role: str = "reader"
    is_operator: bool = False
    is_ad_editor: bool = False
    email: str = ""
    org_name: str = ""
    org_slug: str = ""

    @property
    def is_authenticated(self) -> bool:
        return self.member_id is not None

    @property
    def can_write(self) -> bool:
        # Guest organisations read TLP:CLEAR only; they never write.
        return self.is_authenticated and self.org_is_member and self.role in ("admin", "analyst")

    @property
    def is_admin(self) -> bool:
        return self.is_authenticated and self.org_is_member and self.role == "admin"


ANONYMOUS = Principal()


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """SQL condition on StixObject: true for the object versions principal may read."""
    clauses: list[ColumnElement[bool]] = [StixObject.tlp == int(TLP.CLEAR)]
    # Visitors and guest organisations read TLP:CLEAR only, even where a sharer named a guest organisation.
    if not principal.is_authenticated or principal.org_id is None or not principal.org_is_member:
        return and_(StixObject.is_deleted == false(), clauses[0])
    if principal.org_is_member:
        clauses.append(StixObject.tlp == int(TLP.GREEN))
    # The publisher's colleagues see its AMBER; RED stays with the people named (the sharer among them).
    clauses.append(and_(StixObject.publisher_org_id == principal.org_id, StixObject.tlp < int(TLP.RED)))
    audience = ObjectAudience
    group_ids = sorted(principal.trust_group_ids)
    amber_match = audience.org_id == principal.org_id
    if group_ids:
        amber_match = or_(amber_match, audience.trust_group_id.in_(group_ids))
    clauses.append(
        and_(
            StixObject.tlp == int(TLP.AMBER),
            exists(select(audience.id).where(audience.object_pk == StixObject.pk, amber_match)),
        )
    )
    clauses.append(
        and_(
            StixObject.tlp == int(TLP.AMBER_STRICT),
            exists(select(audience.id).where(audience.object_pk == StixObject.pk, audience.org_id == principal.org_id)),
        )
    )
    clauses.append(
        and_(
            StixObject.tlp == int(TLP.RED),
            exists(
                select(audience.id).where(
                    audience.object_pk == StixObject.pk, audience.member_id == principal.member_id
                )
            ),
        )
    )
    return and_(StixObject.is_deleted == false(), or_(*clauses))
