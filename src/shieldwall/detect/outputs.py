"""Write a run's findings to OUTDIR: tables (Parquet and CSV), the STIX bundle, the HTML report, run.json.

Files are written under temporary names and renamed at the end, so a failed run leaves nothing half-written.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from jinja2 import Environment, FileSystemLoader, select_autoescape

from shieldwall.detect.duck import connect
from shieldwall.detect.pipeline import DetectionResult
from shieldwall.detect.stix_export import build_bundle, techniques_for
from shieldwall.detect.svg import network_svg, timeline_svg
from shieldwall.stix.disarm_refs import TECHNIQUE_URL
from shieldwall.stix.tlp import TLP

TEMPLATES = Path(__file__).parent / "templates"
TABLES = ("clusters", "edges", "evidence")
STRONGEST_PAIRS = 10


@dataclass
class RunInfo:
    run_id: str
    inputs: list[str]
    started: str
    engine: str
    tlp: str
    posts: int
    rows_skipped: int = 0
    problems: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    org: str | None = None  # the owner organisation's slug; None: the hub operator's (detect.runs)
    groups: list[dict[str, Any]] = field(default_factory=list)  # --why verdicts (why.py)
    null_model: str = "data"  # what a pair was tested against (settings.null_model)


def write_outputs(result: DetectionResult, outdir: Path, run: RunInfo, tlp: TLP) -> dict[str, Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    staging = outdir / ".partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    tables = {"clusters": result.clusters, "edges": result.edges, "evidence": result.evidence}
    con = connect()
    try:
        for name, table in tables.items():
            pq.write_table(table, staging / f"{name}.parquet")
            con.register("t", table)
            # DuckDB writes list columns as [a, b] in CSV, which Arrow's CSV writer cannot do.
            con.execute(f"COPY (SELECT * FROM t) TO '{staging / (name + '.csv')}' (HEADER, DELIMITER ',')")
            con.unregister("t")
    finally:
        con.close()
    bundle = build_bundle(result.clusters, result.evidence, tlp, run.run_id)
    (staging / "bundle.json").write_bytes(orjson.dumps(bundle, option=orjson.OPT_INDENT_2))
    (staging / "report.html").write_text(render_report(result, run), encoding="utf-8")
    (staging / "run.json").write_text(json.dumps(run.__dict__, indent=2, default=str), encoding="utf-8")
    written = {}
    for path in staging.iterdir():
        target = outdir / path.name
        path.replace(target)
        written[path.name] = target
    staging.rmdir()
    return written


def report_context(clusters: pa.Table, edges: pa.Table, evidence: pa.Table, run: dict[str, Any]) -> dict[str, Any]:
    membership_rows = [(a, c["cluster_id"]) for c in clusters.to_pylist() for a in c["accounts"]]
    membership = pa.table(
        {"account_id": [a for a, _ in membership_rows], "cluster_id": [c for _, c in membership_rows]},
        schema=pa.schema([("account_id", pa.string()), ("cluster_id", pa.string())]),
    )
    evidence_by: dict[str, list[dict[str, Any]]] = {}
    for row in evidence.to_pylist():
        evidence_by.setdefault(row["cluster_id"], []).append(row)
    cluster_rows = clusters.to_pylist()
    # The strongest pairs: per cluster, and overall among pairs left out of every cluster (too small a
    # community for --min-cluster-size, or split off by Leiden).
    ranked = sorted(edges.to_pylist(), key=lambda e: (e["p_value"], -e["co_actions"], e["src"], e["dst"]))
    strongest: dict[str, list[dict[str, Any]]] = {}
    outside: list[dict[str, Any]] = []
    for edge in ranked:
        if edge["cluster_id"] is None:
            if len(outside) < STRONGEST_PAIRS:
                outside.append(edge)
        elif len(strongest.setdefault(edge["cluster_id"], [])) < STRONGEST_PAIRS:
            strongest[edge["cluster_id"]].append(edge)
    return {
        "strongest": strongest,
        "outside_pairs": outside,
        "groups": run.get("groups") or [],
        "run": run,
        "clusters": cluster_rows,
        "evidence": evidence_by,
        "network_svg": network_svg(edges, membership),
        "timelines": {c["cluster_id"]: timeline_svg(evidence_by.get(c["cluster_id"], [])) for c in cluster_rows},
        "techniques": {c["cluster_id"]: techniques_for(c["signals"]) for c in cluster_rows},
        "technique_url": TECHNIQUE_URL,
    }


def render_report(result: DetectionResult, run: RunInfo) -> str:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]))
    context = report_context(result.clusters, result.edges, result.evidence, run.__dict__)
    return env.get_template("detect/report.html").render(**context)


def read_run(outdir: Path) -> tuple[dict[str, Any], pa.Table, pa.Table, pa.Table]:
    """A finished run's metadata and tables, for --explain and the web page."""
    run = json.loads((outdir / "run.json").read_text(encoding="utf-8"))
    clusters, edges, evidence = (pq.read_table(outdir / f"{name}.parquet") for name in TABLES)
    return run, clusters, edges, evidence
