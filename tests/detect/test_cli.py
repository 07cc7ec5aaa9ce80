"""`shieldwall detect` through the real CLI: outputs, STIX validity and TLP, --explain, --strict, shorteners."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from shieldwall.cli import app
from shieldwall.detect.stix_export import SIGNAL_TECHNIQUES
from shieldwall.detect.synthetic import score_accounts
from shieldwall.stix.disarm_refs import placeholder_stix_id
from shieldwall.stix.tlp import TLP, tlp_of
from shieldwall.stix.validate import validate_objects
from tests.detect.conftest import CliRun

runner = CliRunner()


def test_run_writes_every_output(cli_run: CliRun) -> None:
    names = {p.name for p in cli_run.outdir.iterdir()}
    expected = {f"{t}.{ext}" for t in ("clusters", "edges", "evidence") for ext in ("parquet", "csv")}
    assert expected | {"bundle.json", "report.html", "run.json"} <= names
    clusters = pq.read_table(cli_run.outdir / "clusters.parquet").to_pylist()
    flagged = {a for c in clusters for a in c["accounts"]}
    assert score_accounts(flagged, cli_run.data.truth).f1 >= 0.9
    for cluster in clusters:
        assert cluster["explanation"].startswith(f"{cluster['n_accounts']} accounts")
        assert cluster["signals"] and cluster["first_seen"] <= cluster["last_seen"]
    evidence = pq.read_table(cli_run.outdir / "evidence.parquet").to_pylist()
    assert {e["cluster_id"] for e in evidence} == {c["cluster_id"] for c in clusters}
    assert all(len(e["post_ids"]) == e["n_accounts"] >= 2 for e in evidence)
    header = (cli_run.outdir / "edges.csv").read_text().splitlines()[0]
    assert header.startswith("src,dst,weight,co_actions,expected_co_actions,p_value")
    assert "c1" in cli_run.output and "clusters" in cli_run.output


def test_stix_bundle_is_valid_and_marked(cli_run: CliRun) -> None:
    bundle = json.loads((cli_run.outdir / "bundle.json").read_text())
    objects = bundle["objects"]
    valid, invalid = validate_objects(objects)
    assert invalid == [] and len(valid) == len(objects)
    clusters = pq.read_table(cli_run.outdir / "clusters.parquet")
    campaigns = [o for o in objects if o["type"] == "campaign"]
    assert len(campaigns) == clusters.num_rows
    patterns = {o["pattern"] for o in objects if o["type"] == "indicator"}
    some_account = clusters.column("accounts").to_pylist()[0][0]
    assert f"[user-account:account_login = '{some_account}']" in patterns
    assert any(p.startswith("[url:value = ") for p in patterns)
    assert any(p.startswith("[domain-name:value = ") for p in patterns)
    assert any(p.startswith("[file:hashes.'PDQ' = ") for p in patterns)
    assert any(o["type"] == "observed-data" for o in objects)
    for obj in objects:
        if obj["type"] not in ("marking-definition", "user-account", "url", "domain-name", "attack-pattern"):
            assert tlp_of(obj) == TLP.AMBER, obj["id"]
    assert any(o["type"] == "relationship" and o["relationship_type"] == "indicates" for o in objects)


def test_campaigns_use_the_disarm_techniques_of_their_signals(cli_run: CliRun) -> None:
    objects = json.loads((cli_run.outdir / "bundle.json").read_text())["objects"]
    by_id = {o["id"]: o for o in objects}
    patterns = [o for o in objects if o["type"] == "attack-pattern"]
    assert patterns and all(tlp_of(p) == TLP.CLEAR for p in patterns)  # the framework is public
    clusters = {c["cluster_id"]: c for c in pq.read_table(cli_run.outdir / "clusters.parquet").to_pylist()}
    for campaign in (o for o in objects if o["type"] == "campaign"):
        cluster = clusters[campaign["name"].split()[2]]
        used = {
            by_id[r["target_ref"]]["external_references"][0]["external_id"]
            for r in objects
            if r["type"] == "relationship" and r["relationship_type"] == "uses" and r["source_ref"] == campaign["id"]
        }
        assert used == {SIGNAL_TECHNIQUES[s][0] for s in cluster["signals"]}, campaign["name"]
    # The same technique has the same id as the threat model's (hub-wide) attack-pattern for it.
    assert {p["id"] for p in patterns} <= {placeholder_stix_id(t) for t, _ in SIGNAL_TECHNIQUES.values()}


def test_explain_prints_one_clusters_evidence(cli_run: CliRun) -> None:
    result = runner.invoke(app, ["detect", "-o", str(cli_run.outdir), "--explain", "c1"])
    assert result.exit_code == 0, result.output
    clusters = pq.read_table(cli_run.outdir / "clusters.parquet").to_pylist()
    assert clusters[0]["accounts"][0] in result.output
    assert "chance alone" in result.output
    first_technique = SIGNAL_TECHNIQUES[clusters[0]["signals"][0]][0]
    assert "suggests DISARM:" in result.output and first_technique in result.output
    missing = runner.invoke(app, ["detect", "-o", str(cli_run.outdir), "--explain", "c999"])
    assert missing.exit_code == 1 and "no cluster" in missing.output


def test_strict_fails_with_file_line_and_field_and_default_skips(tmp_path: Path) -> None:
    posts = tmp_path / "posts.csv"
    posts.write_text(
        "post_id,account_id,created_at,urls\n1,a,2024-01-01T00:00:00Z,https://x.example\n2,b,garbage,\n",
        encoding="utf-8",
    )
    strict = runner.invoke(app, ["detect", str(posts), "-o", str(tmp_path / "s"), "--strict"])
    assert strict.exit_code == 2
    assert f"{posts}:3" in strict.output and "created_at" in strict.output
    assert not (tmp_path / "s" / "bundle.json").exists()
    lenient = runner.invoke(app, ["detect", str(posts), "-o", str(tmp_path / "l"), "--tlp", "green"])
    assert lenient.exit_code == 0, lenient.output
    assert "1 malformed rows skipped" in lenient.output
    run = json.loads((tmp_path / "l" / "run.json").read_text())
    assert run["rows_skipped"] == 1 and run["tlp"] == "TLP:GREEN"
    bad_tlp = runner.invoke(app, ["detect", str(posts), "-o", str(tmp_path / "x"), "--tlp", "purple"])
    assert bad_tlp.exit_code != 0


def test_shortener_expansion_joins_short_and_long_links(tmp_path: Path) -> None:
    lines = ["post_id,account_id,created_at,urls"]
    for episode in range(6):
        for member in range(5):
            url = f"https://sho.rt/{episode}" if member % 2 else f"https://Long.example/{episode}/?utm_source=tw"
            lines.append(f"{episode}-{member},acct{member},{1_700_000_000 + episode * 86_400 + member * 20},{url}")
    for i in range(3_000):  # background, so that the group is a small share of the links (as on a platform)
        lines.append(f"bg{i},bg{i % 600},{1_700_000_000 + i * 199},https://other.example/{i % 400}")
    posts = tmp_path / "posts.csv"
    posts.write_text("\n".join(lines) + "\n", encoding="utf-8")
    mapping = tmp_path / "short.csv"
    mapping.write_text("short,long\n" + "".join(f"https://sho.rt/{e},https://long.example/{e}\n" for e in range(6)))
    args = ["detect", str(posts), "--signals", "co_link", "--min-cluster-size", "5"]
    expanded = runner.invoke(app, [*args, "-o", str(tmp_path / "a"), "--shorteners", str(mapping)])
    assert expanded.exit_code == 0, expanded.output
    clusters = pq.read_table(tmp_path / "a" / "clusters.parquet").to_pylist()
    assert [sorted(c["accounts"]) for c in clusters] == [[f"acct{m}" for m in range(5)]]
    # A window narrower than the group's spread (up to 80 s between members) splits it apart.
    narrow = runner.invoke(
        app, [*args, "-o", str(tmp_path / "n"), "--shorteners", str(mapping), "--window", "co_link=10"]
    )
    assert narrow.exit_code == 0, narrow.output
    assert pq.read_table(tmp_path / "n" / "clusters.parquet").num_rows == 0
    assert runner.invoke(app, [*args, "-o", str(tmp_path / "x"), "--window", "nope=3"]).exit_code != 0
    plain = runner.invoke(app, [*args, "-o", str(tmp_path / "b")])
    assert plain.exit_code == 0
    assert pq.read_table(tmp_path / "b" / "clusters.parquet").num_rows == 0


def test_settings_out_of_range_and_an_engine_that_cannot_start_are_one_line(tmp_path: Path) -> None:
    posts = tmp_path / "posts.csv"
    posts.write_text("post_id,account_id,created_at,urls\n1,a,2024-01-01T00:00:00Z,https://x.example/\n")
    runner = CliRunner()
    for option, value, said in (
        ("--text-threshold", "7", "a Jaccard similarity above 0 and at most 1"),
        ("--max-p", "0", "a probability above 0 and at most 1"),
        ("--max-p", "-1", "a probability above 0 and at most 1"),
    ):
        result = runner.invoke(app, ["detect", str(posts), "-o", str(tmp_path / "run"), option, value])
        assert result.exit_code == 2 and said in " ".join(result.output.split())
    assert not (tmp_path / "run").exists()
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return
    spark = ["--engine", "spark", "--master", "nowhere://spark"]
    result = runner.invoke(app, ["detect", str(posts), "-o", str(tmp_path / "run"), *spark])
    said = " ".join(result.output.split())
    assert result.exit_code == 2 and "Spark could not start with master 'nowhere://spark'" in said
    assert not (tmp_path / "run").exists()
