"""Print benchmark lines and keep them in bench/results/<name>.txt, so figures live in the repo."""

from __future__ import annotations

import platform
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


class Report:
    def __init__(self, name: str) -> None:
        self.name = name
        self.lines: list[str] = [
            f"# {name} on {platform.node() or 'this machine'}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
        ]

    def line(self, text: str) -> None:
        print(text, flush=True)
        self.lines.append(text)

    def save(self) -> Path:
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / f"{self.name}.txt"
        path.write_text("\n".join(self.lines) + "\n")
        return path
