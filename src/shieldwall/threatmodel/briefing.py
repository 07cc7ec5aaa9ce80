"""An election briefing (HTML and PDF) built from what its reader may see, and nothing else.

Everything comes from `coverage.compute` for the reader's principal, which reads only through the
exchange's sharing rule: a reader with less clearance gets a shorter briefing, never a redacted longer one.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from shieldwall.exchange.policy import Principal
from shieldwall.stix.tlp import TLP
from shieldwall.threatmodel.adspend import election_ad_spend
from shieldwall.threatmodel.coverage import Coverage, compute
from shieldwall.threatmodel.elections import country_name
from shieldwall.threatmodel.graph import Seen
from shieldwall.threatmodel.tables import Election


@dataclass
class Briefing:
    election: Election
    country: str
    reader: str
    generated_at: str
    coverage: Coverage
    campaigns: list[dict[str, Any]] = field(default_factory=list)
    narratives: list[tuple[str, int]] = field(default_factory=list)
    techniques: list[dict[str, Any]] = field(default_factory=list)
    indicators_by_tlp: list[tuple[str, list[Seen]]] = field(default_factory=list)
    ad_spend: list[dict[str, Any]] = field(default_factory=list)
    ad_spend_note: str = ""

    @property
    def row_count(self) -> int:
        return len(self.campaigns) + len(self.techniques) + sum(len(rows) for _, rows in self.indicators_by_tlp)


def build(session: Session, principal: Principal, election: Election) -> Briefing:
    coverage = compute(session, principal, election)
    reader = f"{principal.email} ({principal.org_name})" if principal.is_authenticated else "a visitor (TLP:CLEAR only)"
    briefing = Briefing(
        election=election,
        country=country_name(election.country),
        reader=reader,
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        coverage=coverage,
    )
    narratives: Counter[str] = Counter()
    indicators: dict[int, dict[str, Seen]] = defaultdict(dict)
    for view in coverage.views:
        briefing.campaigns.append(
            {
                "id": view.campaign.id,
                "name": view.campaign.name,
                "tlp": view.campaign.tlp,
                "first_seen": str(view.campaign.obj.get("first_seen") or "")[:10],
                "actors": [a.name for a in view.actors],
                "techniques": sorted({t.external_id for t in view.techniques}),
                "description": str(view.campaign.obj.get("description") or ""),
            }
        )
        narratives.update({n.name for n in view.narratives})
        for indicator in view.indicators:
            indicators[indicator.tlp][indicator.id] = indicator
    spend = election_ad_spend(session, election)
    briefing.ad_spend, briefing.ad_spend_note = spend.rows, spend.note
    briefing.narratives = narratives.most_common(10)
    for cell in sorted(coverage.observed_cells, key=lambda c: (-c.campaign_count, c.external_id)):
        briefing.techniques.append(
            {
                "id": cell.external_id,
                "name": cell.name,
                "campaigns": cell.campaign_count,
                "organisations": cell.organisation_count,
                "countermeasures": [m.name for m in cell.countermeasures],
            }
        )
    briefing.indicators_by_tlp = [
        (TLP(level).label, sorted(rows.values(), key=lambda s: s.name))
        for level, rows in sorted(indicators.items(), reverse=True)
    ]
    return briefing


def render_pdf(html: str, base_url: str) -> bytes:
    """PDF through WeasyPrint (the `threatmodel` extra); everything it needs is in the HTML itself."""
    from PIL import ImageFile
    from weasyprint import HTML

    # Importing WeasyPrint switches on Pillow's process-wide LOAD_TRUNCATED_IMAGES. Put Pillow's strict
    # default back, or match in the same server would hash truncated uploads instead of rejecting them.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    pdf: bytes = HTML(string=html, base_url=base_url).write_pdf()
    return pdf
