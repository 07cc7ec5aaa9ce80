"""Finished runs kept under the data dir (`<data_dir>/detect/<name>/`), for the web page and the demo."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shieldwall.stix.tlp import TLP


@dataclass(frozen=True)
class StoredRun:
    name: str
    path: Path
    info: dict[str, Any]

    @property
    def tlp(self) -> TLP:
        return TLP.parse(str(self.info.get("tlp", "TLP:RED")))


def runs_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "detect"


def list_runs(data_dir: Path) -> list[StoredRun]:
    """Runs with a run.json, newest first."""
    base = runs_dir(data_dir)
    if not base.is_dir():
        return []
    found = []
    for run_json in base.glob("*/run.json"):
        try:
            info = json.loads(run_json.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        found.append(StoredRun(run_json.parent.name, run_json.parent, info))
    return sorted(found, key=lambda r: (str(r.info.get("started", "")), r.name), reverse=True)
