"""Who reads a detect run, over real HTTP on both databases: its owner organisation and TLP decide, as the
exchange's rule would for an object that organisation published; a hidden run answers 404 everywhere and
is left out of the list; the file route serves only a run's own output files (no traversal, no links)."""

from __future__ import annotations

import http.client
import json
import shutil
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from shieldwall.cli import app
from shieldwall.detect.runs import runs_dir
from shieldwall.stix.tlp import TLP
from tests.detect.conftest import CliRun
from tests.support.hub import seed_hub
from tests.support.live import LiveServer

# run name: (TLP, owner organisation slug or None for "not recorded": the hub operator's)
RUNS = {
    "clear-chirp": (TLP.CLEAR, "chirp"),
    "green-chirp": (TLP.GREEN, "chirp"),
    "amber-chirp": (TLP.AMBER, "chirp"),
    "strict-chirp": (TLP.AMBER_STRICT, "chirp"),
    "red-chirp": (TLP.RED, "chirp"),
    "amber-unrecorded": (TLP.AMBER, None),
    "green-newsroom": (TLP.GREEN, "newsroom"),  # owned by a guest organisation
}
# Who may read which run (everyone else gets 404 and does not see it listed).
READERS = {
    "visitor": {"clear-chirp"},
    "guest": {"clear-chirp", "green-newsroom"},
    "lab": {"clear-chirp", "green-chirp", "green-newsroom"},
    "agency": {"clear-chirp", "green-chirp", "green-newsroom"},  # shares a trust group with chirp: still no AMBER
    "chirp": {"clear-chirp", "green-chirp", "amber-chirp", "strict-chirp", "red-chirp", "green-newsroom"},
    "chirp_reader": {"clear-chirp", "green-chirp", "amber-chirp", "strict-chirp", "red-chirp", "green-newsroom"},
    "operator": {"clear-chirp", "green-chirp", "amber-unrecorded", "green-newsroom"},
}
FILES = ("report.html", "bundle.json", "clusters.csv", "edges.csv", "evidence.csv")


def _store(data_dir: Path, source: Path, name: str, tlp: TLP, org: str | None) -> Path:
    target = runs_dir(data_dir) / name
    shutil.copytree(source, target)
    info = json.loads((target / "run.json").read_text())
    info["tlp"] = tlp.label
    info.pop("org", None)
    if org is not None:
        info["org"] = org
    (target / "run.json").write_text(json.dumps(info))
    return target


@pytest.fixture
def hub_with_runs(live_server: LiveServer, cli_run: CliRun) -> tuple[LiveServer, dict[str, str]]:
    hub = seed_hub(live_server.app.state.database)
    for name, (tlp, org) in RUNS.items():
        _store(live_server.settings.data_dir, cli_run.outdir, name, tlp, org)
    return live_server, {**hub.tokens, "visitor": ""}


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def test_each_principal_reads_only_the_runs_its_organisation_may(
    hub_with_runs: tuple[LiveServer, dict[str, str]],
) -> None:
    server, tokens = hub_with_runs
    for who, readable in READERS.items():
        headers = _headers(tokens[who])
        listing = httpx.get(server.url + "/detect", headers=headers)
        assert listing.status_code == 200
        for name in RUNS:
            assert (f"?run={name}" in listing.text) == (name in readable), (who, name)
            page = httpx.get(server.url + "/detect", params={"run": name}, headers=headers)
            expected = 200 if name in readable else 404
            assert page.status_code == expected, (who, name)
            if expected == 404:
                assert 'class="detect-report"' not in page.text and f"No run named {name}" in page.text
            for filename in FILES:
                got = httpx.get(f"{server.url}/detect/runs/{name}/{filename}", headers=headers)
                assert got.status_code == expected, (who, name, filename)
        # A hidden run answers exactly as a run that does not exist.
        assert httpx.get(server.url + "/detect/runs/no-such-run/clusters.csv", headers=headers).status_code == 404
    csv = httpx.get(f"{server.url}/detect/runs/amber-chirp/clusters.csv", headers=_headers(tokens["chirp"]))
    assert csv.headers["content-type"].startswith("text/csv") and csv.text.startswith("cluster_id")


def _raw_get(server: LiveServer, path: str) -> int:
    """GET a path exactly as written (no client-side normalisation of dot segments or escapes)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        connection.endheaders()
        return connection.getresponse().status
    finally:
        connection.close()


def test_the_file_route_serves_only_a_runs_own_output_files(
    hub_with_runs: tuple[LiveServer, dict[str, str]], tmp_path: Path
) -> None:
    server, _ = hub_with_runs
    base = runs_dir(server.settings.data_dir)
    secret = tmp_path / "secret.csv"
    secret.write_text("cluster_id,secret\nc1,outside the runs\n")
    public = base / "clear-chirp"
    for path in (
        "/detect/runs/clear-chirp/run.json",
        "/detect/runs/clear-chirp/clusters.parquet",
        "/detect/runs/clear-chirp/..%2Famber-chirp%2Fclusters.csv",
        "/detect/runs/clear-chirp/../amber-chirp/clusters.csv",
        "/detect/runs/../detect/amber-chirp/clusters.csv",
        "/detect/runs/%2e%2e/clusters.csv",
        "/detect/runs/..%2Famber-chirp/clusters.csv",
        "/detect/runs/clear-chirp/%2Fetc%2Fpasswd",
        "/detect/runs/clear-chirp//etc/passwd",
        "/detect/runs/clear-chirp/%2e%2e%2f%2e%2e%2f%2e%2e%2fsecret.csv",
    ):
        assert _raw_get(server, path) == 404, path
    # A symlinked file inside a public run, a symlinked run folder, a symlinked run.json: none is served.
    (public / "edges.csv").unlink()
    (public / "edges.csv").symlink_to(secret)
    assert httpx.get(server.url + "/detect/runs/clear-chirp/edges.csv").status_code == 404
    (base / "linked").symlink_to(base / "amber-chirp", target_is_directory=True)
    shutil.copytree(public, base / "borrowed-marking", symlinks=True)
    (base / "borrowed-marking" / "run.json").unlink()
    (base / "borrowed-marking" / "run.json").symlink_to(public / "run.json")
    listing = httpx.get(server.url + "/detect").text
    for name in ("linked", "borrowed-marking"):
        assert name not in listing
        assert httpx.get(f"{server.url}/detect/runs/{name}/clusters.csv").status_code == 404
    assert httpx.get(server.url + "/detect/runs/clear-chirp/clusters.csv").status_code == 200
    report = httpx.get(server.url + "/detect/runs/clear-chirp/report.html")
    assert report.status_code == 200 and "default-src 'none'" in report.headers["content-security-policy"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_cli_records_the_owner_organisation(live_server: LiveServer, cli_run: CliRun) -> None:
    tokens = seed_hub(live_server.app.state.database).tokens
    base = runs_dir(live_server.settings.data_dir)
    result = CliRunner().invoke(
        app, ["detect", str(cli_run.posts_path), "-o", str(base / "by-lab"), "--tlp", "amber", "--org", "lab"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((base / "by-lab" / "run.json").read_text())["org"] == "lab"
    assert httpx.get(live_server.url + "/detect?run=by-lab", headers=_headers(tokens["lab"])).status_code == 200
    assert httpx.get(live_server.url + "/detect?run=by-lab", headers=_headers(tokens["chirp"])).status_code == 404
    default = json.loads((cli_run.outdir / "run.json").read_text())
    assert default["org"] == "hub"  # not named: the hub operator's organisation
    refused = CliRunner().invoke(app, ["detect", str(cli_run.posts_path), "-o", str(base / "x"), "--org", "../x"])
    assert refused.exit_code == 2 and "--org" in refused.output
