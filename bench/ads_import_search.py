"""Ad library benchmark: import rate and search latency on 1,000,000 generated ads (SQLite and
PostgreSQL). The classifier's held-out figures are in bench.ads_classifier.

    python -m bench.ads_import_search [--quick] [--size=N] [--no-postgres | --postgres-only]

Peers measured in the same run: for import, DuckDB parsing the same files (read_json, no archive
work) shows what the archive costs on top of reading; for search, the same query as a substring scan
(LIKE, no full-text index) shows what the index buys.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from bench.report import Report

COUNTRIES = [("US", 0.45), ("BR", 0.12), ("DE", 0.08), ("FR", 0.07), ("GB", 0.05), ("IE", 0.03), ("NL", 0.04),
             ("IT", 0.04), ("ES", 0.04), ("PL", 0.03), ("CA", 0.03), ("AU", 0.02)]  # fmt: skip
LANG = {"US": "en", "BR": "pt", "DE": "de", "FR": "fr", "GB": "en", "IE": "en", "NL": "nl", "IT": "it", "ES": "es",
        "PL": "pl", "CA": "en", "AU": "en"}  # fmt: skip
REGIONS = {
    "US": ["California", "Texas", "Florida", "New York", "Pennsylvania", "Ohio", "Georgia", "Michigan", "Arizona"],
    "BR": ["São Paulo", "Minas Gerais", "Rio de Janeiro", "Bahia", "Paraná"],
    "DE": ["Bayern", "Berlin", "Nordrhein-Westfalen", "Sachsen", "Hessen"],
    "FR": ["Île-de-France", "Bretagne", "Occitanie", "Normandie"],
}
WORDS = {
    "en": "vote election climate jobs health care taxes school veterans border economy freedom family senate "
    "congress governor mayor housing energy wages police safety future community register ballot",
    "pt": "voto eleição saúde educação emprego segurança prefeito governador futuro família cidade",
    "de": "wahl wählen klima arbeit gesundheit steuern schule zukunft familie sicherheit bundestag",
    "fr": "élection voter climat emploi santé impôts école avenir famille sécurité présidentielle",
    "nl": "verkiezing stemmen klimaat werk zorg belasting school toekomst gezin veiligheid",
    "it": "elezioni votare clima lavoro salute tasse scuola futuro famiglia sicurezza",
    "es": "elecciones votar clima empleo salud impuestos escuela futuro familia seguridad",
    "pl": "wybory głosuj klimat praca zdrowie podatki szkoła przyszłość rodzina bezpieczeństwo",
}
SPEND_BUCKETS = [(0, 99), (100, 499), (500, 999), (1000, 4999), (5000, 9999), (10000, 49999), (50000, 99999),
                 (100000, None)]  # fmt: skip
SPEND_WEIGHTS = [0.42, 0.25, 0.1, 0.12, 0.04, 0.05, 0.015, 0.005]
IMPRESSION_BUCKETS = [(0, 999), (1000, 4999), (5000, 9999), (10000, 49999), (50000, 99999), (100000, 199999),
                      (200000, 499999), (500000, 999999), (1000000, None)]  # fmt: skip


def generate_ads(count: int, seed: int = 1) -> list[dict[str, Any]]:
    """Meta Ad Library API records with skewed, realistic distributions (Zipf sponsors, log spend)."""
    rng = np.random.default_rng(seed)
    py = random.Random(seed)
    n_sponsors = max(count // 50, 50)
    sponsor_of = np.minimum(rng.zipf(1.3, count), n_sponsors) - 1
    countries = rng.choice([c for c, _ in COUNTRIES], count, p=np.array([w for _, w in COUNTRIES]) / 1.0)
    spend = rng.choice(len(SPEND_BUCKETS), count, p=SPEND_WEIGHTS)
    starts = rng.integers(0, 6 * 365, count)
    durations = rng.integers(1, 60, count)
    ads = []
    for i in range(count):
        country = str(countries[i])
        lang = LANG[country]
        words = WORDS.get(lang, WORDS["en"]).split()
        sponsor = int(sponsor_of[i])
        lo, hi = SPEND_BUCKETS[int(spend[i])]
        ilo, ihi = IMPRESSION_BUCKETS[min(int(spend[i]) + py.randint(0, 2), len(IMPRESSION_BUCKETS) - 1)]
        start = 1546300800 + int(starts[i]) * 86400
        regions = REGIONS.get(country, [])
        picked = py.sample(regions, min(len(regions), py.randint(1, 3))) if regions else []
        shares = [1 / len(picked)] * len(picked) if picked else []
        ad: dict[str, Any] = {
            "id": f"{i}",
            "page_id": f"page{sponsor}",
            "page_name": f"Page {sponsor}",
            "bylines": f"Committee {sponsor} for {words[sponsor % len(words)].title()}" if py.random() > 0.03 else None,
            "ad_creative_bodies": [" ".join(py.choices(words, k=py.randint(6, 20)))],
            "ad_delivery_start_time": time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(start)),
            "ad_delivery_stop_time": time.strftime(
                "%Y-%m-%dT%H:%M:%S+0000", time.gmtime(start + int(durations[i]) * 86400)
            ),
            "currency": "USD" if country == "US" else ("BRL" if country == "BR" else "EUR"),
            "spend": {"lower_bound": str(lo), **({"upper_bound": str(hi)} if hi is not None else {})},
            "impressions": {"lower_bound": str(ilo), **({"upper_bound": str(ihi)} if ihi is not None else {})},
            "ad_reached_countries": [country],
            "languages": [lang],
            "publisher_platforms": ["facebook", "instagram"][: py.randint(1, 2)],
            "platform": py.choices(["meta", "google", "snap"], [0.6, 0.3, 0.1])[0],
            "delivery_by_region": [{"region": r, "percentage": str(s)} for r, s in zip(picked, shares, strict=True)],
            "demographic_distribution": [
                {
                    "age": py.choice(["18-24", "25-34", "35-44", "45-54", "55-64", "65+"]),
                    "gender": py.choice(["female", "male"]),
                    "percentage": "1",
                }
            ],
        }
        if country == "BR" and py.random() > 0.2:
            ad["payer_ids"] = {"cnpj": "11.222.333/0001-81"}
        if country in ("DE", "FR", "IE", "NL", "IT", "ES", "PL") and py.random() > 0.5:
            ad["eu_transparency"] = {"controlling_entity": f"Holding {sponsor}", "origin_of_funds": "private, EU"}
        ads.append(ad)
    return ads


def write_pages(ads: list[dict[str, Any]], folder: Path, page_size: int = 50_000) -> list[Path]:
    paths = []
    for start in range(0, len(ads), page_size):
        path = folder / f"page{start // page_size:04d}.json"
        path.write_text(json.dumps({"data": ads[start : start + page_size], "paging": {}}))
        paths.append(path)
    return paths


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


# Query mixes, each word with two filters. Rare: a sponsor's number (a handful to a few hundred ads).
# Common: the generator's language words (3% to 30% of ads, strongly tied to a country, so a filter on
# another country makes them rare again). Very common: words in nearly every ad ("page" is in all).
# A few use the spend order, and every query is also asked for its second page through the cursor.
MIXES: dict[str, list[tuple[str, dict[str, str]]]] = {
    "rare": [
        ("777", {"country": "US", "platform": "meta"}),
        ("1234", {"country": "US", "date_from": "2021-01-01"}),
        ("150", {"platform": "google", "spend_min": "1000"}),
        ("1000", {"country": "DE", "platform": "snap"}),
        ("4321", {"country": "US", "compliance": "compliant"}),
        ("2468", {"country": "BR", "language": "pt"}),
        ("5000", {"country": "US", "date_to": "2023-06-30"}),
        ("12000", {"platform": "meta", "spend_max": "500", "sort": "spend"}),
    ],
    "common": [
        ("vote", {"country": "US", "platform": "meta"}),
        ("klima", {"country": "DE", "compliance": "non_compliant"}),
        ("saúde", {"country": "BR", "language": "pt"}),
        ("election", {"platform": "google", "spend_min": "1000"}),
        ("climate jobs", {"country": "US", "date_from": "2022-01-01"}),
        ("famille", {"country": "FR", "platform": "meta"}),
        ("vote", {"country": "DE", "platform": "meta"}),
        ("zukunft", {"platform": "snap", "country": "DE", "sort": "spend"}),
    ],
    "very common": [
        ("page", {"country": "US", "platform": "meta"}),
        ("committee", {"country": "PL", "spend_min": "10000"}),
        ("for", {"country": "DE", "compliance": "non_compliant"}),
        ("page", {"country": "GB", "date_to": "2019-03-01"}),
        ("committee", {"country": "FR", "date_from": "2021-06-01", "date_to": "2021-06-07"}),
        ("page committee", {"country": "IE", "spend_min": "5000", "spend_max": "9999"}),
        ("for", {"platform": "snap", "country": "AU"}),
        ("page", {"country": "NL", "platform": "google", "sort": "spend"}),
    ],
}


def measure_search(database: Any, rounds: int) -> tuple[dict[str, list[float]], list[float]]:
    """Latencies in ms per mix (each query's first page of 50 and the next page through its cursor),
    and the LIKE-scan peer's (first pages, one round: it is slow)."""
    from sqlalchemy import and_, select

    from shieldwall.ads.search import SORTS, AdFilters, conditions, search_ads
    from shieldwall.ads.tables import Ad

    indexed: dict[str, list[float]] = {mix: [] for mix in MIXES}
    scanned: list[float] = []
    for r in range(rounds):
        for mix, queries in MIXES.items():
            for q, extra in queries:
                params = {k: v for k, v in extra.items() if k != "sort"}
                sort = extra.get("sort", "newest")
                filters = AdFilters.from_query({"q": q, **params})
                cursor = None
                for _ in range(2):
                    with database.session() as session:
                        started = time.perf_counter()
                        page = search_ads(session, filters, sort=sort, cursor=cursor, limit=50)
                        indexed[mix].append((time.perf_counter() - started) * 1000)
                    cursor = page.next_cursor
                    if cursor is None:
                        break
                if r == 0:
                    plain = AdFilters.from_query(params)
                    column, direction = SORTS[sort]
                    order = (column.desc(), Ad.id.desc()) if direction == "desc" else (column.asc(), Ad.id.asc())
                    with database.session() as session:
                        started = time.perf_counter()
                        query = (
                            select(Ad)
                            .where(and_(Ad.search_text.like(f"%{q}%"), *conditions(session, plain)))
                            .order_by(*order)
                            .limit(50)
                        )
                        list(session.scalars(query))
                        scanned.append((time.perf_counter() - started) * 1000)
    return indexed, scanned


def bench_backend(report: Report, name: str, url: str, paths: list[Path], count: int, rounds: int) -> None:
    from shieldwall.ads.importing import import_files
    from shieldwall.store.db import Database
    from shieldwall.store.migrate import upgrade

    upgrade(url)
    database = Database(url)
    try:
        started = time.perf_counter()
        result = import_files(database, paths, "meta")
        seconds = time.perf_counter() - started
        assert result.stats.created == count, result.summary()
        rate = count / seconds
        report.line(f"ads import {name}: {count:,} ads in {seconds:.1f} s = {rate:,.0f} ads/s")
        peer = duckdb_parse_seconds(paths)
        report.line(
            f"ads import {name}: peer DuckDB read_json (parse only, no archive) {peer:.1f} s = "
            f"{count / peer:,.0f} ads/s; archive/peer time ratio {seconds / peer:.1f}x"
        )
        from sqlalchemy import text

        with database.session() as session:
            session.execute(text("ANALYZE"))  # fresh statistics, as after any bulk load
        measure_search(database, 1)  # warm caches once, as a running server would be
        by_mix, scanned = measure_search(database, rounds)
        for mix, values in by_mix.items():
            report.line(
                f"ads search {name} {mix} words: text + two filters, pages of 50 (first and next by cursor), "
                f"{len(values)} queries: p50 {percentile(values, 50):.1f} ms, p95 {percentile(values, 95):.1f} ms"
            )
        indexed = [v for values in by_mix.values() for v in values]
        p50, p95 = percentile(indexed, 50), percentile(indexed, 95)
        report.line(
            f"ads search {name} all mixes: {len(indexed)} queries: "
            f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(indexed):.1f} ms "
            f"(goal p95 < 50 ms: {'met' if p95 < 50 else 'NOT met'})"
        )
        s50, s95 = percentile(scanned, 50), percentile(scanned, 95)
        report.line(
            f"ads search {name}: peer substring scan (LIKE, no index; first pages) p50 {s50:.1f} ms, p95 {s95:.1f} ms; "
            f"speed-up p50 {s50 / max(p50, 0.01):.1f}x, p95 {s95 / max(p95, 0.01):.1f}x"
        )
    finally:
        database.dispose()


def duckdb_parse_seconds(paths: list[Path]) -> float:
    import duckdb

    started = time.perf_counter()
    connection = duckdb.connect()
    for path in paths:
        connection.execute(
            "SELECT count(*) FROM (SELECT unnest(data) FROM read_json(?, maximum_object_size=1000000000))",
            [str(path)],
        ).fetchall()
    connection.close()
    return time.perf_counter() - started


def classifier_lines(report: Report, quick: bool) -> None:
    from shieldwall.ads.classifier import load_labelled, train_and_evaluate

    seeds = Path(__file__).resolve().parents[2] / "shared" / "data" / "ads" / "political-classifier-seeds"
    if not seeds.is_dir():
        report.line(f"ads classifier: seeds not found at {seeds}; skipped")
        return
    datasets = []
    rng = random.Random(5)
    for path in sorted(seeds.glob("*.json")):
        texts, labels = load_labelled(path)
        if quick:
            keep = sorted(rng.sample(range(len(texts)), min(len(texts), 600)))
            texts, labels = [texts[i] for i in keep], labels[keep]
        datasets.append((path.stem, texts, labels))
    started = time.perf_counter()
    _, evaluations = train_and_evaluate(datasets)
    seconds = time.perf_counter() - started
    for evaluation in evaluations:
        report.line(f"ads classifier {evaluation.line()}")
    majority = [
        max(float(np.mean(labels)), 1 - float(np.mean(labels))) for _, _, labels in datasets
    ]  # the trivial peer: always answer the majority class
    report.line(
        f"ads classifier: peer majority-class baseline accuracy {statistics.mean(majority):.3f} (mean over locales); "
        f"train+evaluate {seconds:.1f} s"
    )


def main() -> None:
    quick = "--quick" in sys.argv
    count = 20_000 if quick else 1_000_000
    for arg in sys.argv:
        if arg.startswith("--size="):
            count = int(arg.split("=", 1)[1])
    rounds = 3 if quick else 10
    # --postgres-only: a second run of one backend keeps its own results file beside the full one.
    postgres_only = "--postgres-only" in sys.argv
    report = Report("ads_import_search_postgresql" if postgres_only else "ads_import_search")
    report.line(f"ads bench: {count:,} generated Meta-format ads (Zipf sponsors, 12 countries, bucketed spend)")
    with tempfile.TemporaryDirectory(prefix="ads-bench-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        paths = write_pages(generate_ads(count), folder)
        report.line(f"ads bench: generated and wrote {len(paths)} JSON pages in {time.perf_counter() - started:.1f} s")
        if not postgres_only:
            bench_backend(report, "sqlite", f"sqlite:///{folder / 'bench.db'}", paths, count, rounds)
        if "--no-postgres" not in sys.argv:
            sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
            from tests.support.postgres import PostgresServer, find_bindir

            bindir = find_bindir()
            if bindir is None:
                report.line("ads bench postgresql: no PostgreSQL server installed; skipped")
            else:
                server = PostgresServer(bindir)
                server.start()
                try:
                    url = server.create_database("ads_bench_" + uuid.uuid4().hex[:8])
                    bench_backend(report, "postgresql", url, paths, count, rounds)
                finally:
                    server.stop()
    report.save()


if __name__ == "__main__":
    main()
