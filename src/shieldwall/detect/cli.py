"""`shieldwall detect POSTS... -o OUTDIR`: find coordinated accounts, explain them, export and publish."""

from __future__ import annotations

import csv
import re
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from shieldwall.detect.errors import EngineUnavailable, MalformedInput
from shieldwall.detect.settings import DEFAULT_WINDOWS, NO_NULL, NULL_MODELS, SIGNALS, DetectSettings
from shieldwall.exchange.directory import HUB_SLUG
from shieldwall.stix.tlp import TLP

console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    app.command(name="detect")(detect)


def detect(
    posts: list[Path] = typer.Argument(None, help="Posts files: CSV, JSONL, Parquet, Twitter JSON, IO archive CSV."),
    outdir: Path = typer.Option(..., "-o", "--outdir", help="Where to write clusters, edges, bundle and report."),
    tlp: str = typer.Option("amber", help="TLP 2.0 marking for the bundle: clear, green, amber, amber+strict, red."),
    org: str = typer.Option(
        HUB_SLUG, "--org", help="Slug of the organisation the run belongs to (its TLP decides who else reads it)."
    ),
    strict: bool = typer.Option(False, "--strict", help="Stop at the first malformed row instead of skipping it."),
    engine: str = typer.Option("duckdb", help="duckdb (one machine) or spark."),
    master: str = typer.Option("local[2]", help="Spark master URL (with --engine spark)."),
    explain: str = typer.Option(None, "--explain", help="Print one cluster's evidence (e.g. c1)."),
    publish: str = typer.Option(
        None, "--publish", help="TAXII 2.1 collection URL of an exchange to send the bundle to."
    ),
    token: str = typer.Option(None, "--token", help="API token for --publish."),
    shorteners: Path = typer.Option(None, help="CSV of short,long URL pairs to expand shortened links."),
    signals: str = typer.Option(",".join(SIGNALS), help="Comma-separated signals to use."),
    text_threshold: float = typer.Option(0.6, help="Jaccard threshold for near-duplicate texts."),
    max_p: float = typer.Option(
        1e-6, "--max-p", help="Significance a pair must reach to build a cluster (less at scale: family-wise)."
    ),
    null: str = typer.Option(
        "data",
        "--null",
        help="data: test pairs against the null model estimated from the posts; none: CooRTweet's fixed rule "
        "(--min-co-actions within the window), only for posts collected around a suspected campaign.",
    ),
    min_cluster_size: int = typer.Option(3, min=2, help="Smallest cluster to report (2 reports pairs)."),
    min_co_actions: int = typer.Option(
        3, min=2, help="Co-actions a pair needs in one signal (CooRTweet's min_participation is 2)."
    ),
    fan_out: int = typer.Option(
        32, "--fan-out", min=2, help="Pairing budget: on a crowded item, about how many others each action pairs with."
    ),
    why: Path = typer.Option(
        None, "--why", help="CSV of GROUP,ACCOUNT rows: say for each group why it was or was not flagged."
    ),
    window: list[str] = typer.Option(
        None, "--window", help="Per-signal time window in seconds, e.g. --window co_link=300 (repeatable)."
    ),
) -> None:
    """Detect coordinated inauthentic behaviour in posts; write findings to OUTDIR."""
    try:
        level = TLP.parse(tlp)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--tlp") from None
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", org):
        raise typer.BadParameter(f"{org!r} is not an organisation slug", param_hint="--org")
    # Heavy modules (DuckDB, igraph, SciPy) load only when detection runs, not on every `shieldwall` call.
    from shieldwall.detect.engine import ENGINES, run_engine
    from shieldwall.detect.loaders import load_posts
    from shieldwall.detect.outputs import RunInfo, write_outputs
    from shieldwall.detect.pipeline import STAGES
    from shieldwall.detect.publish import PublishError, publish_bundle

    if engine not in ENGINES:
        raise typer.BadParameter(f"use one of {', '.join(ENGINES)}", param_hint="--engine")
    if not 0.0 < text_threshold <= 1.0:
        raise typer.BadParameter("a Jaccard similarity above 0 and at most 1", param_hint="--text-threshold")
    if not 0.0 < max_p <= 1.0:
        raise typer.BadParameter("a probability above 0 and at most 1", param_hint="--max-p")
    if null not in NULL_MODELS:
        raise typer.BadParameter(f"use one of {', '.join(NULL_MODELS)}", param_hint="--null")
    if publish and not token:
        raise typer.BadParameter("--publish needs --token", param_hint="--token")
    chosen = tuple(s.strip() for s in signals.split(",") if s.strip())
    unknown = [s for s in chosen if s not in SIGNALS]
    if unknown:
        raise typer.BadParameter(f"unknown signals {unknown}; choose from {', '.join(SIGNALS)}", param_hint="--signals")
    if not posts:
        if explain and (outdir / "run.json").exists():
            _explain(outdir, explain)
            return
        raise typer.BadParameter("give at least one posts file", param_hint="POSTS")
    windows = dict(DEFAULT_WINDOWS)
    for spec in window or []:
        name, _, seconds = spec.partition("=")
        if name not in SIGNALS or not seconds.isdigit():
            raise typer.BadParameter(f"use SIGNAL=SECONDS with one of {', '.join(SIGNALS)}", param_hint="--window")
        windows[name] = int(seconds)
    settings = DetectSettings(
        windows=windows,
        signals=chosen,
        text_threshold=text_threshold,
        max_p_value=max_p,
        min_cluster_size=min_cluster_size,
        min_co_actions=min_co_actions,
        null_model=null,
        fan_out=fan_out,
        shortener_map=_read_shorteners(shorteners) if shorteners else {},
    )
    groups = _read_why(why, engine) if why else None
    if outdir.exists() and not outdir.is_dir():
        raise typer.BadParameter(f"{outdir} is a file, not a directory", param_hint="--outdir")
    started = time.perf_counter()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        load_task = progress.add_task("load posts", total=len(posts))
        try:
            table, report = load_posts(posts, strict=strict, on_rows=lambda _: progress.advance(load_task))
        except MalformedInput as error:
            console.print(f"[red]malformed input:[/red] {escape(str(error))}", soft_wrap=True)  # paths stay whole
            raise typer.Exit(2) from None
        stage_task = progress.add_task(f"detect ({engine})", total=len(STAGES))

        def on_stage(name: str) -> None:
            progress.update(stage_task, advance=1, description=f"detect ({engine}): {name} done")

        try:
            result = run_engine(engine, table, settings, on_stage, master=master, groups=groups)
        except EngineUnavailable as error:
            console.print(f"[red]error:[/red] {escape(str(error))}", soft_wrap=True)
            raise typer.Exit(2) from None
        write_task = progress.add_task("write outputs", total=1)
        run = RunInfo(
            run_id=uuid.uuid4().hex[:12],
            inputs=[str(p) for p in posts],
            started=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            engine=engine,
            tlp=level.label,
            org=org,
            posts=table.num_rows,
            rows_skipped=report.rows_skipped,
            problems=[str(p) for p in report.problems],
            stats=result.stats,
            seconds=round(time.perf_counter() - started, 3),
            groups=result.groups,
            null_model=null,
        )
        try:
            written = write_outputs(result, outdir, run, level)
        except OSError as error:
            console.print(f"[red]cannot write outputs:[/red] {error.filename or outdir}: {error.strerror or error}")
            raise typer.Exit(2) from None
        progress.advance(write_task)
    for problem in report.problems[:10]:
        console.print(f"[yellow]skipped[/yellow] {escape(str(problem))}", soft_wrap=True)  # paths stay whole
    if report.rows_skipped:
        console.print(f"{report.rows_skipped} malformed rows skipped (use --strict to stop at the first).")
    console.print(
        f"{table.num_rows} posts, {result.clusters.num_rows} clusters, {result.membership.num_rows} accounts "
        f"in clusters, {result.edges.num_rows} significant edges; written to {outdir}"
    )
    _print_clusters(result.clusters.to_pylist())
    if null != NO_NULL and result.clusters.num_rows == 0 and result.stats.get("co_action_pairs"):
        would = result.stats.get("fixed_rule_accounts")
        console.print(
            "no cluster. If these posts were collected around a suspected campaign (its hashtags, links or "
            "accounts), the campaign may be most of the data: the null model, estimated from the data, then reads "
            "its items as popular and its accounts as active. --null none applies CooRTweet's fixed rule instead "
            f"({min_co_actions} co-actions within the window make an edge"
            + (f"; here it would link {would} accounts" if would is not None else "")
            + "); on organic data that rule flags busy accounts that meet by chance, so use it only where the "
            "posts are the campaign's.",
            soft_wrap=True,
        )
    if result.groups:
        flagged = sum(1 for g in result.groups if g["flagged"])
        console.print(f"--why: {flagged} of {len(result.groups)} groups flagged; verdicts in run.json and report.html")
    if publish:
        bundle = orjson.loads(written["bundle.json"].read_bytes())
        try:
            status = publish_bundle(bundle, publish, token)
        except PublishError as error:
            console.print(f"[red]publish failed:[/red] {error}", soft_wrap=True)
            raise typer.Exit(3) from None
        console.print(
            f"published {len(bundle['objects'])} objects: status {status.get('status', '?')} "
            f"(success {status.get('success_count', '?')}, failures {status.get('failure_count', '?')})"
        )
    if explain:
        _explain(outdir, explain)


def _read_why(path: Path, engine: str) -> dict[str, list[str]]:
    from shieldwall.detect.why import read_groups

    if engine != "duckdb":
        raise typer.BadParameter("runs with the duckdb engine only", param_hint="--why")
    try:
        groups = read_groups(path)
    except (OSError, UnicodeDecodeError) as error:
        raise typer.BadParameter(f"{path}: cannot read ({error})", param_hint="--why") from None
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--why") from None
    if not groups:
        raise typer.BadParameter(f"{path}: no GROUP,ACCOUNT rows", param_hint="--why")
    return groups


def _read_shorteners(path: Path) -> dict[str, str]:
    from shieldwall.inputfiles import InputError, not_utf8, utf8_bytes

    try:
        data = utf8_bytes(path)
    except (InputError, OSError) as error:
        raise typer.BadParameter(str(error), param_hint="--shorteners") from None
    bad = not_utf8(data)
    if bad is not None:
        raise typer.BadParameter(f"{path}:{bad[0]}: {bad[1]}", param_hint="--shorteners")
    rows = [r for r in csv.reader(data.decode("utf-8").splitlines()) if len(r) >= 2]
    if rows and rows[0][0].strip().lower() in ("short", "short_url"):
        rows = rows[1:]
    return {r[0].strip(): r[1].strip() for r in rows}


def _print_clusters(clusters: list[dict[str, object]]) -> None:
    if not clusters:
        return
    table = Table("cluster", "accounts", "signals", "score", "first seen", "last seen")
    for c in clusters[:20]:
        table.add_row(
            str(c["cluster_id"]),
            str(c["n_accounts"]),
            ", ".join(c["signals"]),  # type: ignore[arg-type]
            f"{c['score']:.2f}",
            str(c["first_seen"]),
            str(c["last_seen"]),
        )
    Console().print(table)


def _explain(outdir: Path, cluster_id: str) -> None:
    from shieldwall.detect.outputs import read_run
    from shieldwall.detect.stix_export import techniques_for

    run, clusters, _, evidence = read_run(outdir)
    rows = [c for c in clusters.to_pylist() if c["cluster_id"] == cluster_id]
    out = Console()
    if not rows:
        known = ", ".join(clusters.column("cluster_id").to_pylist()) or "none"
        console.print(f"[red]no cluster {cluster_id!r}[/red] in run {run['run_id']} (clusters: {known})")
        raise typer.Exit(1)
    cluster = rows[0]
    out.print(
        f"[bold]{cluster_id}[/bold]: {cluster['n_accounts']} accounts, signals {', '.join(cluster['signals'])}, "
        f"score {cluster['score']:.2f}, {cluster['first_seen']} to {cluster['last_seen']}"
    )
    out.print(cluster["explanation"])
    techniques = techniques_for(cluster["signals"])
    if techniques:
        out.print("suggests DISARM: " + "; ".join(f"{tid} {name}" for tid, name in techniques))
    out.print("accounts: " + ", ".join(cluster["accounts"]))
    table = Table("signal", "item", "accounts", "first", "last", "posts")
    for e in (e for e in evidence.to_pylist() if e["cluster_id"] == cluster_id):
        table.add_row(
            e["signal"],
            str(e["label"])[:70],
            str(e["n_accounts"]),
            str(e["first_seen"]),
            str(e["last_seen"]),
            " ".join(e["post_ids"][:6]),
        )
    out.print(table)
