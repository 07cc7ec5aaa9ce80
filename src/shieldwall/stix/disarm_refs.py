"""How Shieldwall names a DISARM technique in STIX, shared by every capability that cites one.

A technique cited before the DISARM bundle is imported gets an `attack-pattern` with a stable id
derived from its DISARM id, so detect's findings and the threat model point at the same object; the
threat model resolves attack-patterns by their DISARM external id either way.
"""

from __future__ import annotations

import uuid
from typing import Any

TECHNIQUE_URL = "https://github.com/DISARMFoundation/DISARMframeworks/blob/main/generated_pages/techniques/{}.md"
PLACEHOLDER_NAMESPACE = uuid.UUID("5b0e7f1e-2a47-4c55-9d8e-4f1d2b7a9c31")
FRAMEWORK_STAMP = "2024-11-22T00:00:00.000Z"  # fixed, so every export of a technique is the same version


def placeholder_stix_id(external_id: str) -> str:
    return f"attack-pattern--{uuid.uuid5(PLACEHOLDER_NAMESPACE, external_id)}"


def technique_reference(external_id: str) -> dict[str, Any]:
    return {"source_name": "DISARM", "external_id": external_id, "url": TECHNIQUE_URL.format(external_id)}


def minimal_attack_pattern(stix_id: str, external_id: str, name: str) -> dict[str, Any]:
    """The attack-pattern for a technique when DISARM's own object is not at hand."""
    return {
        "type": "attack-pattern",
        "spec_version": "2.1",
        "id": stix_id,
        "created": FRAMEWORK_STAMP,
        "modified": FRAMEWORK_STAMP,
        "name": name,
        "external_references": [technique_reference(external_id)],
    }
