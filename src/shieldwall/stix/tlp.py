"""TLP 2.0 as STIX 2.1 marking definitions, with the official OASIS ids.

Levels are ordered integers so the sharing rule can compare them in SQL.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

TLP2_EXTENSION_ID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"


class TLP(IntEnum):
    CLEAR = 0
    GREEN = 1
    AMBER = 2
    AMBER_STRICT = 3
    RED = 4

    @property
    def label(self) -> str:
        return "TLP:" + self.name.replace("_", "+")

    @property
    def slug(self) -> str:
        return self.name.lower().replace("_", "+")

    @property
    def marking_id(self) -> str:
        return TLP2_MARKING_IDS[self]

    @classmethod
    def parse(cls, text: str) -> TLP:
        """Accept 'amber+strict', 'TLP:AMBER+STRICT', 'amber_strict', 'white' (TLP 1.0's name for clear)."""
        key = text.strip().upper().removeprefix("TLP:").replace("+", "_").replace("-", "_")
        if key == "WHITE":
            key = "CLEAR"
        try:
            return cls[key]
        except KeyError:
            raise ValueError(f"unknown TLP level {text!r}; use clear, green, amber, amber+strict or red") from None


TLP2_MARKING_IDS: dict[TLP, str] = {
    TLP.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    TLP.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    TLP.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    TLP.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    TLP.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}

# STIX 2.1's built-in TLP 1.0 markings map onto the nearest 2.0 level.
TLP1_MARKING_IDS: dict[str, TLP] = {
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": TLP.CLEAR,
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": TLP.GREEN,
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": TLP.AMBER,
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": TLP.RED,
}

MARKING_TO_TLP: dict[str, TLP] = {**{v: k for k, v in TLP2_MARKING_IDS.items()}, **TLP1_MARKING_IDS}


def marking_definition(level: TLP) -> dict[str, Any]:
    """The official TLP 2.0 marking-definition object for a level."""
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": level.marking_id,
        "created": "2022-10-01T00:00:00.000Z",
        "name": level.label,
        "extensions": {TLP2_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": level.slug}},
    }


def tlp_of(obj: dict[str, Any]) -> TLP | None:
    """The strictest TLP among an object's object_marking_refs, or None when it carries none."""
    levels = [MARKING_TO_TLP[ref] for ref in obj.get("object_marking_refs", ()) if ref in MARKING_TO_TLP]
    return max(levels) if levels else None


def with_tlp(obj: dict[str, Any], level: TLP) -> dict[str, Any]:
    """A copy of obj marked with level, replacing any TLP marking it had."""
    refs = [r for r in obj.get("object_marking_refs", ()) if r not in MARKING_TO_TLP]
    return {**obj, "object_marking_refs": [level.marking_id, *refs]}


def granular_tlp(obj: dict[str, Any]) -> TLP | None:
    """The strictest TLP among an object's granular markings (a part of it marked), or None."""
    levels = [
        MARKING_TO_TLP[ref]
        for marking in obj.get("granular_markings") or ()
        if isinstance(marking, dict) and (ref := marking.get("marking_ref")) in MARKING_TO_TLP
    ]
    return max(levels) if levels else None
