"""The match capability's part of the demo: a bank of a few URLs, domains, accounts, texts and the PDQ
hashes of pictures generated here with Pillow. The pictures and their re-encoded near-duplicates are
written to <data_dir>/match-demo/ so they can be dropped on the /match page to see matches."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from sqlalchemy import select

from shieldwall.config import Settings
from shieldwall.match.banks import apply_indicators, create_bank
from shieldwall.match.files import pdq_of_image
from shieldwall.match.tables import Bank
from shieldwall.stix.tlp import TLP
from shieldwall.store.db import Database

BANK = "demo-election-2026"
NAMESPACE = uuid.UUID("6b1d3c1e-5e2a-4f2b-9a43-0d8c9a1f2e77")


def picture(seed: int, size: int = 320) -> Any:
    """A colourful picture that PDQ hashes with full quality (smooth background plus a few discs)."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).resize(
        (size, size), Image.Resampling.BICUBIC
    )
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x, y = rng.integers(0, size, 2)
        r = int(rng.integers(size // 16, size // 4))
        draw.ellipse([x - r, y - r, x + r, y + r], fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    return image


def _encode(image: Any, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _indicator(pattern: str, name: str, tlp: TLP) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid5(NAMESPACE, pattern)}",
        "created": "2026-10-01T09:00:00.000Z",
        "modified": "2026-10-01T09:00:00.000Z",
        "name": name,
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": "2026-10-01T09:00:00Z",
        "object_marking_refs": [tlp.marking_id],
    }


def demo_indicators(pictures: dict[str, str]) -> list[dict[str, Any]]:
    objects = [_indicator(f"[file:hashes.PDQ = '{pdq}']", name, TLP.CLEAR) for name, pdq in pictures.items()]
    objects += [
        _indicator(
            "[url:value = 'https://springfield-truth.example/polls-closed']", "Fake polling-closure story", TLP.CLEAR
        ),
        _indicator(
            "[url:value = 'https://news-today.example/ballots-found-in-river']", "Fabricated ballot story", TLP.CLEAR
        ),
        _indicator("[domain-name:value = 'springfield-truth.example']", "Inauthentic news site", TLP.CLEAR),
        _indicator("[domain-name:value = 'patriot-daily-news.example']", "Inauthentic news site", TLP.GREEN),
        _indicator(
            "[user-account:account_type = 'twitter' AND user-account:account_login = 'real_springfield_voice']",
            "Coordinated persona",
            TLP.CLEAR,
        ),
        _indicator(
            "[user-account:account_type = 'facebook' AND user-account:user_id = '100044512345']",
            "Coordinated page",
            TLP.GREEN,
        ),
        _indicator(
            "[x-text:value = 'BREAKING: polling stations in Springfield are closed today because of flooding. "
            "Vote tomorrow instead!']",
            "Voting-date disinformation",
            TLP.CLEAR,
        ),
    ]
    return objects


def load(database: Database, settings: Settings, console: Console) -> None:
    out_dir = Path(settings.data_dir) / "match-demo"
    out_dir.mkdir(parents=True, exist_ok=True)
    names = {1: "doctored ballot photo", 2: "fake flood picture", 3: "manipulated candidate photo"}
    hashes: dict[str, str] = {}
    for seed, name in names.items():
        image = picture(seed)
        original = _encode(image, "PNG")
        hashes[name] = pdq_of_image(name, original)[0]
        slug = name.replace(" ", "-")
        (out_dir / f"{slug}.png").write_bytes(original)
        # What a re-upload looks like: smaller, recompressed as JPEG and WebP.
        smaller = image.resize((image.width * 3 // 4, image.height * 3 // 4))
        (out_dir / f"{slug}-reupload.jpg").write_bytes(_encode(smaller, "JPEG", quality=70))
        (out_dir / f"{slug}-reupload.webp").write_bytes(_encode(smaller, "WEBP", quality=70))
    (out_dir / "unrelated.png").write_bytes(_encode(picture(99), "PNG"))
    with database.session() as session:
        bank = session.scalar(select(Bank).where(Bank.name == BANK))
        if bank is None:
            bank = create_bank(
                session,
                BANK,
                description="Signals of the demo influence operation around the Springfield election",
                label="known IO: Springfield 2026",
                review=True,
            )
        report = apply_indicators(session, bank, demo_indicators(hashes))
    console.print(f"match: bank {BANK!r}: {report.summary()}; pictures to try on /match are in {out_dir}")
