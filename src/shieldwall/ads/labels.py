"""What a reader should be told about a post or link: news, sponsored, political ad (with its
"Paid for by" line), or undeclared political (paid, political-looking, and not declared as such).

The archive is consulted first: a link that is an archived ad carries that ad's declaration and
"paid for by" line, whatever the caller claims.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shieldwall.ads.archive import POLITICAL_THRESHOLD, Scorer
from shieldwall.ads.tables import Ad

LABELS = ("news", "sponsored", "political_ad", "undeclared_political")
DISPLAY = {
    "news": "News",
    "sponsored": "Sponsored",
    "political_ad": "Political ad",
    "undeclared_political": "Paid content · looks political, not declared as a political ad",
}


@dataclass
class Label:
    label: str
    display: str
    paid_for_by: str | None
    publisher: str | None
    reason: str
    political_score: float | None = None
    archived_ad_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _archived(session: Session | None, url: str | None) -> Ad | None:
    if session is None or not url:
        return None
    return session.scalars(select(Ad).where(Ad.link_url == url).order_by(Ad.id.desc()).limit(1)).first()


def label_content(
    *,
    publisher: str | None,
    is_paid: bool,
    paid_by: str | None = None,
    declared_political: bool = False,
    text: str | None = None,
    url: str | None = None,
    scorer: Scorer | None = None,
    session: Session | None = None,
) -> Label:
    archived = _archived(session, url)
    if archived is not None:
        is_paid = True
        declared_political = declared_political or archived.declared_political
        paid_by = paid_by or archived.funding_entity
        publisher = publisher or archived.page_name
        text = text or archived.body
    if not is_paid:
        return Label("news", DISPLAY["news"], None, publisher, "not paid for: editorial content")
    payer = (paid_by or "").strip() or None
    if declared_political:
        line = f"Paid for by {payer}" if payer else "Paid for by: not disclosed"
        reason = "paid and declared political" + ("" if payer else "; the payer is missing, a disclosure gap")
        return Label("political_ad", line, payer, publisher, reason, None, archived.id if archived else None)
    score = None
    if scorer is not None and text:
        score = float(scorer([text])[0])
    if score is not None and score >= POLITICAL_THRESHOLD:
        return Label(
            "undeclared_political",
            DISPLAY["undeclared_political"],
            payer,
            publisher,
            f"paid, not declared political, but the classifier scores it {score:.2f} political",
            score,
            archived.id if archived else None,
        )
    reason = "paid, not political" if score is not None else "paid; no classifier model installed to check politics"
    line = f"Sponsored by {payer}" if payer else "Sponsored"
    return Label("sponsored", line, payer, publisher, reason, score, archived.id if archived else None)
