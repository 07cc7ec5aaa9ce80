"""What the authorization work costs the TAXII exchange: the baseline commit against the current code, one run.

Issue 10 moved every exchange write through ownership screening and a per-collection lock, masked and
authenticated paging cursors with an HMAC, and gave every route an Access-rule dependency. Its goal: the TAXII
GET figures cost under 10% more than before. This starts two `shieldwall serve` servers on loopback, each on a
fresh SQLite database seeded with the same hub through its own `shieldwall admin` CLI: one runs the baseline
commit (bac527b, the last before that work) from a git worktree, the other the current code. Then, round
after round, with the order of the two servers alternating (A B, B A, ...) and every GET figure taken from
both servers in turn, each server gets:

1. POST of N TLP:GREEN indicators in bundles of 1,000 into a collection of its own for the round (objects/s);
2. walks of that collection by `next` with limit=1000 and limit=100 (objects/s; page p50/p99 over all walks);
3. single-page latency, limit=100, at the start, middle and end of it (median of R requests).

Each is timed twice: by the wall clock, as a client sees it, and as the server process's CPU time (all its
threads, from /proc), which hardly moves with the load that others put on this shared 2-core machine; the
verdict uses the latter. A figure is the median over rounds; cost is how much more time per object or page
the current code takes.

`python -m bench.exchange_policy_cost [--quick] [--baseline REF] [--current REF]`; lines go to
bench/results/exchange_policy_cost.txt.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import orjson
from tests.support.postgres import free_port

from bench.exchange_servers import STARTUP_TIMEOUT_S, TAXII, UNTHROTTLED, _stop, _wait_until_up
from bench.exchange_taxii import SavedReport, chunks, get_page, http_client, indicators, running, walk
from bench.report import Report

REPO = Path(__file__).resolve().parents[1]
BASELINE_REF = "bac527b"  # the last commit before the session that did issue 10's authorization work
LIMITS = (1000, 100)
POSITIONS = ("start", "middle", "end")
LATENCY_LIMIT = 100


@dataclass(frozen=True)
class Sizes:
    objects: int  # posted and walked per round and server
    bundle: int
    rounds: int
    walks: int  # walks per limit, per round and server
    repeats: int  # requests behind one single-page latency figure


FULL = Sizes(objects=10_000, bundle=1_000, rounds=6, walks=5, repeats=25)
QUICK = Sizes(objects=2_000, bundle=1_000, rounds=3, walks=1, repeats=5)


# ------------------------------------------------------------------------------------------- code versions


@dataclass(frozen=True)
class Code:
    label: str  # "baseline" or "current"
    src: Path  # put first on PYTHONPATH, so `import shieldwall` is this version
    describe: str


def git(*args: str, cwd: Path = REPO) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def subject(ref: str) -> str:
    line = git("log", "-1", "--format=%h %s", ref)
    return line if len(line) <= 80 else line[:77].rstrip() + "..."


def checkout(label: str, ref: str, path: Path) -> Code:
    """A detached worktree of `ref` at `path`, made if missing; an existing one must be a clean checkout of it
    (it is never moved to another commit: it may be someone's)."""
    commit = git("rev-parse", "--verify", f"{ref}^{{commit}}")
    if path.exists():
        if git("rev-parse", "HEAD", cwd=path) != commit:
            raise RuntimeError(f"{path} is not a checkout of {ref} ({commit[:12]}); remove it or choose another dir")
        if git("status", "--porcelain", "--", "src", cwd=path):
            raise RuntimeError(f"{path} has uncommitted changes under src/; it would not measure {ref}")
    else:
        git("worktree", "add", "--detach", str(path), commit)
    return Code(label, path / "src", f"{subject(commit)} (worktree {path})")


def working_tree(label: str) -> Code:
    dirty = ", with uncommitted changes under src/" if git("status", "--porcelain", "--", "src") else ""
    return Code(label, REPO / "src", f"working tree {REPO} at {subject('HEAD')}{dirty}")


# ------------------------------------------------------------------------------------------------ servers

# Runs each version's own CLI in one process (importing the app once, not once per command); prints the
# commands' standard output as JSON, and which shieldwall package it imported.
SEED = r"""
import json, os, sys
os.environ["COLUMNS"] = "1000"  # so rich never folds a token across lines
import shieldwall
from typer.testing import CliRunner
from shieldwall.cli import app

runner = CliRunner()
outputs = []
for args in json.loads(sys.argv[1]):
    result = runner.invoke(app, args)
    if result.exit_code != 0:
        sys.exit(f"shieldwall {' '.join(args)} exited {result.exit_code}: {result.output} {result.exception!r}")
    outputs.append(result.stdout.strip())
print(json.dumps({"package": shieldwall.__file__, "outputs": outputs}))
"""
SERVE = (
    "import shieldwall; print('shieldwall from', shieldwall.__file__, flush=True)\n"
    "from shieldwall.cli import main; main()"
)

ORGANISATIONS = [  # slug, name, kind, country, guest: one on each side of every sharing rule
    ("chirp", "Chirp", "platform", "US", False),
    ("agency", "Election Security Agency", "government", "US", False),
    ("lab", "Disinfo Lab", "research", "DE", False),
    ("newsroom", "Newsroom", "civil_society", "FR", True),
]
MEMBERS = [("chirp", "chirp", "analyst"), ("chirp", "chirp_reader", "reader"), ("agency", "agency", "analyst")]
WRITER = "chirp"  # an analyst of a member platform: may write hub-wide collections


def seed_commands(rounds: int) -> list[list[str]]:
    """The same hub for every version: organisations, a trust group, members, the writer's token (the output
    of the command at index -rounds - 1), and a collection per round (the last `rounds` outputs)."""
    commands = [["admin", "init-db"]]
    for slug, name, kind, country, guest in ORGANISATIONS:
        commands.append(
            ["admin", "create-org", name, "--kind", kind, "--country", country, "--slug", slug]
            + (["--guest"] if guest else [])
        )
    commands.append(["admin", "create-group", "US 2026 working group", "chirp", "agency"])
    for org, who, role in MEMBERS:
        commands.append(["admin", "create-member", org, f"{who}@example.org", "--name", who, "--role", role])
    commands.append(["admin", "create-token", f"{WRITER}@example.org", "--name", "bench", "--days", "0"])
    for index in range(rounds):
        title = f"Bench round {index + 1}"
        commands.append(["admin", "create-collection", f"bench-{index + 1}", title, "--default-tlp", "green"])
    return commands


class VersionServer:
    """`shieldwall serve` of one code version on a free loopback port, on a fresh SQLite database seeded by that
    version's own CLI; the interpreter is ours, the shieldwall package the version's (PYTHONPATH first)."""

    def __init__(self, code: Code, work_dir: Path, rounds: int) -> None:
        self.code = code
        self.rounds = rounds
        self.work_dir = work_dir / code.label
        self.data_dir = self.work_dir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.work_dir / "serve.log"
        self.token = ""
        self.collection_ids: list[str] = []
        self.package = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._log_handle: IO[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": str(self.code.src),
            "SHIELDWALL_DATA_DIR": str(self.data_dir),
            "SHIELDWALL_DATABASE_URL": f"sqlite:///{self.data_dir / 'shieldwall.db'}",
            # So the rate limiter (a feature measured elsewhere) never throttles the bench.
            "SHIELDWALL_RATE_LIMIT_PER_MINUTE": str(UNTHROTTLED),
        }

    def seed(self) -> None:
        commands = seed_commands(self.rounds)
        done = subprocess.run(
            [sys.executable, "-c", SEED, json.dumps(commands)],
            cwd=self.work_dir,  # not the repo: `import shieldwall` must not find a stray package in the cwd
            env=self.env,
            capture_output=True,
            text=True,
            timeout=STARTUP_TIMEOUT_S,
        )
        if done.returncode != 0:
            raise RuntimeError(f"seeding the {self.code.label} hub failed: {done.stderr[-2000:]}")
        seeded = json.loads(done.stdout.strip().splitlines()[-1])
        self.package = seeded["package"]
        if not Path(self.package).is_relative_to(self.code.src):
            raise RuntimeError(f"the {self.code.label} CLI imported {self.package}, not the code under {self.code.src}")
        outputs: list[str] = seeded["outputs"]
        self.token = outputs[-self.rounds - 1]
        self.collection_ids = outputs[-self.rounds :]
        if not self.token.startswith("swt_") or any(len(c) != 36 for c in self.collection_ids):
            raise RuntimeError(f"unexpected CLI output from the {self.code.label} hub: {outputs[-self.rounds - 1 :]}")

    def start(self) -> VersionServer:
        self.seed()
        self._log_handle = self.log.open("wb")
        self._process = subprocess.Popen(
            [sys.executable, "-c", SERVE, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
            cwd=self.work_dir,
            env=self.env,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
        )
        _wait_until_up(f"{self.url}/taxii2/", self.auth, self._process, self.log)
        served = self.log.read_text(errors="replace").split("\n", 1)[0]
        if served != f"shieldwall from {self.package}":
            raise RuntimeError(f"the {self.code.label} server says {served!r}, expected the package {self.package}")
        return self

    @property
    def auth(self) -> tuple[str, str]:
        return (WRITER, self.token)

    def cpu_clock(self) -> CpuClock:
        assert self._process is not None, "the server is not running"
        return CpuClock(self._process.pid)

    def collection_url(self, round_index: int) -> str:
        return f"{self.url}/taxii2/hub/collections/{self.collection_ids[round_index]}/"

    def stop(self) -> None:
        if self._process is not None and self._log_handle is not None:
            _stop(self._process, self._log_handle)
            self._process = None


# ------------------------------------------------------------------------------------------- measurements


def post_all(client: httpx.Client, url: str, objects: Sequence[dict[str, Any]], bundle: int) -> float:
    """Seconds to POST every object in TAXII envelopes of `bundle`; each must be stored (a status of all
    successes), so a server refusing work cannot look fast."""
    started = time.perf_counter()
    for part in chunks(objects, bundle):
        response = client.post(
            f"{url}objects/", content=orjson.dumps({"objects": list(part)}), headers={"Content-Type": TAXII}
        )
        response.raise_for_status()
        status = orjson.loads(response.content)
        if status.get("success_count") != len(part) or status.get("failure_count"):
            raise RuntimeError(f"{url}: stored {status.get('success_count')} of {len(part)}: {status}")
    return time.perf_counter() - started


class CpuClock:
    """CPU time of a server process, every thread's, in nanoseconds from /proc/PID/task/*/schedstat: unlike the
    wall clock, it hardly moves when other work loads this shared machine. A thread that ends inside a window
    loses its share of it; the server's pool threads outlive an idle gap of seconds, longer than any window."""

    def __init__(self, pid: int) -> None:
        self.tasks = Path(f"/proc/{pid}/task")

    def read(self) -> dict[str, int]:
        times = {}
        for task in self.tasks.iterdir():
            try:
                times[task.name] = int((task / "schedstat").read_text().split()[0])
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                continue  # the thread ended while we looked
        return times

    def ms_since(self, before: dict[str, int]) -> float:
        after = self.read()
        return sum(max(0, ns - before.get(tid, 0)) for tid, ns in after.items()) / 1e6


@dataclass
class Figures:
    """One server's raw figures over all rounds: wall clock as the client sees it, and the server's CPU time."""

    post_rate: list[float] = field(default_factory=list)  # objects/s, one per round
    post_cpu: list[float] = field(default_factory=list)  # server CPU ms per 1,000 objects, one per round
    walk_rate: dict[int, list[float]] = field(default_factory=dict)  # limit -> per-round median objects/s
    walk_cpu: dict[int, list[float]] = field(default_factory=dict)  # limit -> per-round median CPU ms/1,000
    page_ms: dict[int, list[float]] = field(default_factory=dict)  # limit -> every page of every walk
    single_ms: dict[str, list[float]] = field(default_factory=dict)  # position -> per-round median ms
    single_cpu: dict[str, list[float]] = field(default_factory=dict)  # position -> per-round median CPU ms


def measure_round(
    servers: Sequence[VersionServer],
    clients: dict[str, httpx.Client],
    figures: dict[str, Figures],
    sizes: Sizes,
    round_index: int,
) -> None:
    """One round: the same new objects POSTed to each server, then each GET figure from each in turn."""
    objects = indicators(sizes.objects, start=round_index * sizes.objects)
    per_k = 1000 / sizes.objects
    for server in servers:
        mine, clock = figures[server.code.label], server.cpu_clock()
        before = clock.read()
        seconds = post_all(clients[server.code.label], server.collection_url(round_index), objects, sizes.bundle)
        mine.post_cpu.append(clock.ms_since(before) * per_k)
        mine.post_rate.append(sizes.objects / seconds)
    cursors: dict[str, dict[str, str | None]] = {}
    for limit in LIMITS:
        rates: dict[str, list[float]] = {s.code.label: [] for s in servers}
        cpus: dict[str, list[float]] = {s.code.label: [] for s in servers}
        for _ in range(sizes.walks):
            for server in servers:
                label, clock = server.code.label, server.cpu_clock()
                before = clock.read()
                w = walk(clients[label], server.collection_url(round_index), limit)
                cpus[label].append(clock.ms_since(before) * per_k)
                if w.objects != sizes.objects:
                    raise RuntimeError(f"{label}: a walk by {limit} read {w.objects} of {sizes.objects} objects")
                rates[label].append(w.objects / w.seconds)
                figures[label].page_ms.setdefault(limit, []).extend(w.page_ms)
                if limit == LATENCY_LIMIT:
                    cursors[label] = {"start": None, "middle": w.middle, "end": w.end}
        for label in rates:
            figures[label].walk_rate.setdefault(limit, []).append(statistics.median(rates[label]))
            figures[label].walk_cpu.setdefault(limit, []).append(statistics.median(cpus[label]))
    for position in POSITIONS:
        times: dict[str, list[float]] = {s.code.label: [] for s in servers}
        cpu: dict[str, list[float]] = {s.code.label: [] for s in servers}
        for server in servers:  # warm: the first read of a page after the bulk load may come from disk
            label = server.code.label
            get_page(clients[label], server.collection_url(round_index), LATENCY_LIMIT, cursors[label][position])
        for _ in range(sizes.repeats):  # request by request in turn, so a change of load hits both alike
            for server in servers:
                label, clock = server.code.label, server.cpu_clock()
                before = clock.read()
                t0 = time.perf_counter()
                body = get_page(
                    clients[label], server.collection_url(round_index), LATENCY_LIMIT, cursors[label][position]
                )
                times[label].append((time.perf_counter() - t0) * 1000)
                cpu[label].append(clock.ms_since(before))
                if len(body.get("objects", [])) != LATENCY_LIMIT:
                    raise RuntimeError(f"{label}: a page of {LATENCY_LIMIT} at the {position} was not full")
        for label in times:
            figures[label].single_ms.setdefault(position, []).append(statistics.median(times[label]))
            figures[label].single_cpu.setdefault(position, []).append(statistics.median(cpu[label]))


# ---------------------------------------------------------------------------------------------- reporting


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cost(baseline: float, current: float, higher_is_better: bool) -> float:
    """Percent more time the current code takes than the baseline (negative: it saves time)."""
    return ((baseline / current) if higher_is_better else (current / baseline)) * 100 - 100


def cost_range(base: Sequence[float], cur: Sequence[float], higher_is_better: bool) -> str:
    """The spread of the round-by-round costs: what the noise of this machine allows one to read."""
    per_round = sorted(cost(b, c, higher_is_better) for b, c in zip(base, cur, strict=True))
    return f"rounds {per_round[0]:+.1f}%..{per_round[-1]:+.1f}%"


def compare(report: Report, what: str, base: Sequence[float], cur: Sequence[float], unit: str, higher: bool) -> float:
    b, c = statistics.median(base), statistics.median(cur)
    fmt = ",.0f" if unit == "objects/s" else ".2f"
    pct = cost(b, c, higher)
    report.line(
        f"{what}: baseline {b:{fmt}} {unit}, current {c:{fmt}} {unit}; ratio current/baseline {c / b:.3f}; "
        f"cost {pct:+.1f}% ({cost_range(base, cur, higher)})"
    )
    return pct


CPU_PER_K = "CPU ms per 1,000 objects"


def summarise(report: Report, sizes: Sizes, base: Figures, cur: Figures) -> None:
    n = f"{sizes.objects:,}"
    post = f"POST {n} TLP:GREEN indicators in bundles of {sizes.bundle:,}"
    post_wall = compare(report, f"{post}, wall clock", base.post_rate, cur.post_rate, "objects/s", True)
    post_cpu = compare(report, f"{post}, server CPU", base.post_cpu, cur.post_cpu, CPU_PER_K, False)
    wall: dict[str, float] = {}
    cpu: dict[str, float] = {}
    for limit in LIMITS:
        what = f"GET walk of all {n} by next, limit={limit}"
        key = f"walk by {limit}"
        wall[key] = compare(
            report, f"{what}, wall clock", base.walk_rate[limit], cur.walk_rate[limit], "objects/s", True
        )
        pages_b, pages_c = base.page_ms[limit], cur.page_ms[limit]
        report.line(
            f"  pages of {limit} ({len(pages_b)} per server): p50 baseline {percentile(pages_b, 0.5):.2f} ms, "
            f"current {percentile(pages_c, 0.5):.2f} ms; p99 baseline {percentile(pages_b, 0.99):.2f} ms, "
            f"current {percentile(pages_c, 0.99):.2f} ms"
        )
        cpu[key] = compare(report, f"{what}, server CPU", base.walk_cpu[limit], cur.walk_cpu[limit], CPU_PER_K, False)
    for position in POSITIONS:
        what = f"GET single page, limit={LATENCY_LIMIT}, at the {position} (median of {sizes.repeats})"
        key = f"page at {position}"
        wall[key] = compare(
            report, f"{what}, wall clock", base.single_ms[position], cur.single_ms[position], "ms", False
        )
        cpu[key] = compare(
            report, f"{what}, server CPU", base.single_cpu[position], cur.single_cpu[position], "ms CPU", False
        )
    headline = f"walk by {LIMITS[0]}"
    verdict = cpu[headline]
    report.line(
        f"GET cost of the policy work: {verdict:.1f}% (goal < 10%): {'met' if verdict < 10 else 'NOT met'}; the "
        f"server CPU per object of the walk of all {n} by {LIMITS[0]:,} (the TAXII GET bench's figure), since on "
        f"this shared machine the wall clock moves with others' load (it says {wall[headline]:+.1f}%)"
    )
    report.line(
        "every GET figure, server CPU: "
        + ", ".join(f"{k} {v:+.1f}%" for k, v in cpu.items())
        + "; wall clock: "
        + ", ".join(f"{k} {v:+.1f}%" for k, v in wall.items())
    )
    report.line(f"POST (no goal): server CPU {post_cpu:+.1f}%, wall clock {post_wall:+.1f}%")


# ------------------------------------------------------------------------------------------------ running


def compare_versions(report: Report, sizes: Sizes, baseline: Code, current: Code, work: Path) -> None:
    for code in (baseline, current):
        report.line(f"{code.label}: {code.describe}")
    with ExitStack() as stack:
        servers = [
            stack.enter_context(running(VersionServer(code, work, sizes.rounds))) for code in (baseline, current)
        ]
        clients = {s.code.label: stack.enter_context(http_client(s.auth)) for s in servers}
        figures = {s.code.label: Figures() for s in servers}
        loads = []
        for round_index in range(sizes.rounds):
            loads.append(os.getloadavg()[0])
            order = servers if round_index % 2 == 0 else servers[::-1]
            measure_round(order, clients, figures, sizes, round_index)
            print(f"round {round_index + 1}/{sizes.rounds} done ({' then '.join(s.code.label for s in order)})")
    report.line("load average at the start of each round: " + ", ".join(f"{x:.1f}" for x in loads))
    summarise(report, sizes, figures[baseline.label], figures[current.label])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.exchange_policy_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 objects, 3 rounds: a smoke run")
    parser.add_argument("--baseline", default=BASELINE_REF, help=f"git ref of the baseline (default {BASELINE_REF})")
    parser.add_argument(
        "--baseline-dir", type=Path, default=REPO.parent / "baseline", help="its worktree (made if missing)"
    )
    parser.add_argument(
        "--current", default="", help="git ref of the current code (default: the working tree beside this bench)"
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    report = SavedReport("exchange_policy_cost")
    report.line(
        f"sizes: {sizes.objects:,} objects per round and server in bundles of {sizes.bundle:,}, {sizes.rounds} "
        f"rounds (servers alternate going first), {sizes.walks} walk(s) per limit per round, single pages "
        f"{sizes.repeats} requests{' (--quick)' if args.quick else ''}; both servers `shieldwall serve` (1 worker) "
        f"on fresh SQLite; load average at start {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    report.line(
        "figures: medians over rounds; ratio = current/baseline; cost = % more time per object or page the "
        "current code takes (negative: less), with the spread of the per-round costs"
    )
    baseline = checkout("baseline", args.baseline, args.baseline_dir.resolve())
    if args.current:
        commit = git("rev-parse", "--verify", f"{args.current}^{{commit}}")
        current = checkout("current", args.current, REPO.parent / f"shieldwall-{commit[:12]}")
    else:
        current = working_tree("current")
    with tempfile.TemporaryDirectory(prefix="bench-policy-cost-") as tmp:
        compare_versions(report, sizes, baseline, current, Path(tmp))
    report.line(f"load average at end {os.getloadavg()[0]:.1f}")
    path = report.save()
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
