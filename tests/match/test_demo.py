"""The demo bank loads (twice, idempotently) and its re-encoded pictures match on /match."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from rich.console import Console

from shieldwall.config import load_settings
from shieldwall.match import demo
from tests.support.live import LiveServer


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_demo_bank_matches_its_reuploaded_pictures(live_server: LiveServer, tmp_path: Path) -> None:
    settings = load_settings(database_url=live_server.settings.database_url, data_dir=str(tmp_path / "var"))
    database = live_server.app.state.database
    demo.load(database, settings, Console(file=None, quiet=True))
    demo.load(database, settings, Console(file=None, quiet=True))  # a second run changes nothing
    pictures = tmp_path / "var" / "match-demo"
    files = [
        ("files", (name, (pictures / name).read_bytes()))
        for name in ("fake-flood-picture-reupload.webp", "doctored-ballot-photo-reupload.jpg", "unrelated.png")
    ]
    page = httpx.post(
        f"{live_server.url}/match",
        files=files,
        data={"url": "http://springfield-truth.example/polls-closed", "account": "twitter:real_springfield_voice"},
    )
    assert page.status_code == 200
    assert "4 of 5 items matched" in page.text
    assert "fake flood picture" in page.text and "doctored ballot photo" in page.text
    result = httpx.post(
        f"{live_server.url}/api/match",
        json={
            "texts": [
                "Breaking: polling stations in Springfield are CLOSED today because of flooding - vote tomorrow instead"
            ]
        },
    ).json()
    assert result["matched"] == 1
