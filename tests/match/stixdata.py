"""Small STIX bundles for the tests."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from shieldwall.stix.tlp import TLP


def indicator(pattern: str, tlp: TLP | None = TLP.GREEN, name: str = "", **extra: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": "2026-10-01T10:00:00.000Z",
        "modified": "2026-10-01T10:00:00.000Z",
        "name": name or pattern[:60],
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": "2026-10-01T10:00:00Z",
        **extra,
    }
    if tlp is not None:
        obj["object_marking_refs"] = [tlp.marking_id]
    return obj


def bundle(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}


def write_bundle(path: Path, objects: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(bundle(objects)))
    return path
