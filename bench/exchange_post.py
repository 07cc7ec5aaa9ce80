"""POST head to head with medallion, without the slow medallion GET: repeatable on a quiet machine.

`python -m bench.exchange_post [--quick]` posts the same indicators (bundles of 1,000, taxii2-client) to
Shieldwall on SQLite (every object validated) and to medallion 3.0.0 in memory, several times, and
prints each attempt's rates and ratio, and the load average, so noise from other work is visible.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.exchange_servers import MedallionServer, ShieldwallServer, ensure_medallion_venv
from bench.exchange_taxii import client_for, indicators, running, taxii_post
from bench.report import Report


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.exchange_post", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 objects, 2 attempts")
    args = parser.parse_args(argv)
    count, attempts = (2_000, 2) if args.quick else (10_000, 3)
    report = Report("exchange_post")
    objects = indicators(count)
    ratios: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        medallion = ensure_medallion_venv()
        for attempt in range(1, attempts + 1):
            with running(ShieldwallServer(work / f"sqlite-{attempt}")) as server:
                shieldwall_s = taxii_post(client_for(server.collection_url, server.auth), objects, 1000)
            with running(MedallionServer(work, medallion)) as peer:
                medallion_s = taxii_post(client_for(peer.collection_url, peer.auth), objects, 1000)
            ratios.append(medallion_s / shieldwall_s)
            report.line(
                f"attempt {attempt}: POST {count:,} indicators in bundles of 1,000 (taxii2-client): Shieldwall/SQLite, "
                f"every object validated {count / shieldwall_s:,.0f} objects/s; medallion 3.0.0 in-memory "
                f"{count / medallion_s:,.0f} objects/s; ratio {ratios[-1]:.2f}x (goal >=3x); "
                f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
            )
    ratios.sort()
    report.line(f"median ratio over {attempts} attempts: {ratios[len(ratios) // 2]:.2f}x (goal >=3x)")
    report.save()


if __name__ == "__main__":
    main()
