"""--publish sends the bundle to a live exchange's TAXII 2.1 collection; /detect shows a finished run."""

from __future__ import annotations

import io
import shutil
import time
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
from rich.console import Console
from typer.testing import CliRunner

from shieldwall.cli import app
from shieldwall.detect import demo
from shieldwall.detect.outputs import RunInfo, write_outputs
from shieldwall.detect.pipeline import run_duckdb
from shieldwall.detect.runs import runs_dir
from shieldwall.detect.settings import DetectSettings
from shieldwall.detect.stix_export import SIGNAL_TECHNIQUES
from shieldwall.detect.synthetic import SyntheticData, generate
from shieldwall.stix.tlp import TLP
from tests.detect.conftest import CliRun
from tests.support.hub import seed_hub
from tests.support.live import LiveServer

TAXII = "application/taxii+json;version=2.1"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_publish_to_the_exchange_over_taxii(live_server: LiveServer, tmp_path: Path) -> None:
    posts = tmp_path / "posts.parquet"
    pq.write_table(generate(n_posts=6_000, n_accounts=600, n_groups=3, seed=4).posts, posts)
    hub = seed_hub(live_server.app.state.database)
    collection = f"{live_server.url}/taxii2/hub/collections/{hub.collection_id}/"
    token = hub.tokens["chirp"]
    outdir = tmp_path / "published"
    result = CliRunner().invoke(
        app,
        [
            "detect",
            str(posts),
            "-o",
            str(outdir),
            "--tlp",
            "green",
            "--publish",
            collection,
            "--token",
            token,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "published" in result.output and "failures 0" in result.output
    stored = httpx.get(
        collection + "objects/",
        params={"match[type]": "campaign"},
        headers={"Accept": TAXII, "Authorization": f"Bearer {token}"},
    )
    assert stored.status_code == 200
    campaigns = stored.json().get("objects", [])
    assert campaigns and all(c["type"] == "campaign" for c in campaigns)
    assert "accounts" in campaigns[0]["description"]
    techniques = httpx.get(
        collection + "objects/",
        params={"match[type]": "attack-pattern"},
        headers={"Accept": TAXII, "Authorization": f"Bearer {token}"},
    ).json()["objects"]
    assert techniques and {t["external_references"][0]["source_name"] for t in techniques} == {"DISARM"}
    refused = CliRunner().invoke(
        app,
        ["detect", str(posts), "-o", str(outdir), "--publish", collection, "--token", "wrong"],
    )
    assert refused.exit_code == 3 and "publish failed" in refused.output


def _store_run(data_dir, name: str, data: SyntheticData, tlp: TLP) -> None:  # type: ignore[no-untyped-def]
    result = run_duckdb(data.posts, DetectSettings())
    info = RunInfo(
        run_id=name,
        inputs=["synthetic"],
        started="2026-01-01 00:00:00 UTC",
        engine="duckdb",
        tlp=tlp.label,
        posts=data.posts.num_rows,
    )
    write_outputs(result, runs_dir(data_dir) / name, info, tlp)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_detect_page_over_http(live_server: LiveServer, synthetic_small: SyntheticData, cli_run: CliRun) -> None:
    data_dir = live_server.settings.data_dir
    assert "No finished runs yet" in httpx.get(live_server.url + "/detect").text
    shutil.copytree(cli_run.outdir, runs_dir(data_dir) / "secret-run")  # TLP:AMBER: members only
    _store_run(data_dir, "public-run", synthetic_small, TLP.CLEAR)
    page = httpx.get(live_server.url + "/detect")
    assert page.status_code == 200
    assert "public-run" in page.text and "secret-run" not in page.text
    assert "<svg" in page.text and 'class="network"' in page.text and 'class="timeline"' in page.text
    assert "chance alone" in page.text
    bundle = httpx.get(live_server.url + "/detect/runs/public-run/bundle.json")
    assert bundle.status_code == 200 and bundle.json()["type"] == "bundle"
    assert httpx.get(live_server.url + "/detect/runs/secret-run/bundle.json").status_code == 404
    assert httpx.get(live_server.url + "/detect?run=nope").status_code == 404


@pytest.mark.browser
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_demo_run_in_chromium(live_server: LiveServer, chromium) -> None:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    demo.load(live_server.app.state.database, live_server.settings, Console(file=io.StringIO()))
    assert time.perf_counter() - started < 30  # the demo stays quick (about 2-3 s on an idle machine)
    chromium.get(live_server.url + "/detect")
    assert demo.DEMO_RUN in chromium.find_element("css selector", ".detect-runs").text
    assert "Detect" in chromium.title
    heading = chromium.find_element("css selector", ".detect-report h1").text
    assert "cluster" in heading
    circles = chromium.find_elements("css selector", "svg.network circle")
    assert len(circles) >= 20
    first_cluster = chromium.find_element("css selector", "table.clusters tbody tr td a")
    first_cluster.click()
    assert chromium.current_url.endswith("#c1")
    assert chromium.find_element("css selector", "#c1 .explanation").text.startswith(
        chromium.find_element("css selector", "table.clusters tbody tr td:nth-child(2)").text + " accounts"
    )
    assert len(chromium.find_elements("css selector", "#c1 table.evidence tbody tr")) >= 2
    # The techniques the cluster's signals suggest, linked to DISARM, as the reader sees them.
    row = chromium.find_element("css selector", "table.clusters tbody tr")
    signals = row.find_element("css selector", "td:nth-child(3)").text.split(", ")
    expected = {SIGNAL_TECHNIQUES[s][0] for s in signals if s in SIGNAL_TECHNIQUES}
    assert expected and set(row.find_element("css selector", "td.techniques").text.split(", ")) == expected
    links = chromium.find_elements("css selector", "#c1 p.techniques a")
    assert {link.text.split()[0] for link in links} == expected
    assert all("DISARMframeworks" in str(link.get_attribute("href")) for link in links)
