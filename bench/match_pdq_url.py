"""Match benchmark: PDQ near-duplicate search against python-threatexchange's PDQIndex2, and URL/domain lookups.

1. A bank of N random 256-bit PDQ hashes (1,000,000 by default) and Q queries made from bank entries with
   exactly d bits flipped, d = 0..31 in turn (planted near-duplicates). Our multi-index-hashing index
   (shieldwall.pdq.PdqIndex, threshold 31) must find every planted source: recall is printed
   and must be 100%. Single-query throughput and p50/p99 latency, index build time and memory; then
   python-threatexchange's PDQIndex2 (faiss IndexFlatL2 over 256 floats, brute force) on the same bank
   and the first K queries, in the same run, with the ratio. Both return the same match sets (checked).
2. A URL/domain bank of 1,000,000 signals (800k URLs, 200k domains) in the production Matcher; queries
   are raw URLs (a quarter exact hits written differently, a quarter subdomains of banked domains, half
   misses) canonicalised and looked up one at a time on one core.

`python -m bench.match_pdq_url [--quick]`; lines go to bench/results/match_pdq_url.txt.
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.report import Report
from shieldwall.match.matcher import BankInfo, Matcher, SignalRows
from shieldwall.pdq import PdqIndex

PEER_RATE_NOTE = "python-threatexchange PDQIndex2 (faiss IndexFlatL2, its default threads)"


def rss_bytes(field: str = "VmRSS") -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def planted_queries(
    bank: np.ndarray, count: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sources = rng.choice(len(bank), count, replace=False)
    distances = np.arange(count) % 32
    bits = np.unpackbits(bank[sources], axis=1)
    for row, d in enumerate(distances):
        bits[row, rng.choice(256, int(d), replace=False)] ^= 1
    return np.packbits(bits, axis=1), sources, distances


def timed_queries(search: Callable[[int], Any], count: int) -> tuple[np.ndarray, list[Any]]:
    latencies = np.empty(count)
    results = []
    for i in range(count):
        start = time.perf_counter()
        results.append(search(i))
        latencies[i] = time.perf_counter() - start
    return latencies, results


def bench_pdq(report: Report, size: int, queries: int, peer_queries: int) -> None:
    rng = np.random.default_rng(2026)
    bank = rng.integers(0, 256, (size, 32), dtype=np.uint8)
    query_hashes, sources, distances = planted_queries(bank, queries, rng)

    gc.collect()
    rss_before = rss_bytes()
    tracemalloc.start()
    start = time.perf_counter()
    index = PdqIndex(bank, threshold=31)
    build = time.perf_counter() - start
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_index = rss_bytes() - rss_before
    index.search(query_hashes[0])  # warm caches once, like a server that has answered a query
    latencies, results = timed_queries(lambda i: index.search(query_hashes[i]), queries)
    found = sum(int(src) in rows.tolist() for src, (rows, _) in zip(sources, results, strict=True))
    correct_distance = sum(
        int(d[rows.tolist().index(src)]) == int(planted)
        for src, planted, (rows, d) in zip(sources, distances, results, strict=True)
        if int(src) in rows.tolist()
    )
    ours_qps = queries / latencies.sum()
    report.line(f"pdq bank: {size:,} hashes, {queries:,} planted near-duplicates at distances 0..31 (threshold 31)")
    report.line(f"pdq ours recall of planted near-duplicates: {found}/{queries} = {100 * found / queries:.2f}%")
    report.line(f"pdq ours planted distance reported exactly: {correct_distance}/{queries}")
    report.line(f"pdq ours index build: {build:.2f} s")
    report.line(
        f"pdq ours index memory: {index.nbytes / 2**20:.0f} MiB arrays, {traced_peak / 2**20:.0f} MiB peak while "
        f"building, RSS +{rss_index / 2**20:.0f} MiB"
    )
    report.line(f"pdq ours single-query throughput (1 core): {ours_qps:,.0f} q/s")
    report.line(
        f"pdq ours latency per query: p50 {np.percentile(latencies, 50) * 1e3:.3f} ms, "
        f"p99 {np.percentile(latencies, 99) * 1e3:.3f} ms"
    )

    bench_pdq_matcher(report, bank, query_hashes, sources, min(queries, 5_000))

    from threatexchange.signal_type.pdq.pdq_index2 import PDQIndex2

    hexes = [row.tobytes().hex() for row in bank]
    gc.collect()
    rss_before = rss_bytes()
    start = time.perf_counter()
    peer = PDQIndex2(entries=((h, i) for i, h in enumerate(hexes)), threshold=31)
    peer_build = time.perf_counter() - start
    rss_peer = rss_bytes() - rss_before
    peer_hex = [query_hashes[i].tobytes().hex() for i in range(peer_queries)]
    peer.query(peer_hex[0])
    peer_latencies, peer_results = timed_queries(lambda i: peer.query(peer_hex[i]), peer_queries)
    peer_found = sum(int(sources[i]) in {m.metadata for m in peer_results[i]} for i in range(peer_queries))
    same = sum({m.metadata for m in peer_results[i]} == set(results[i][0].tolist()) for i in range(peer_queries))
    peer_qps = peer_queries / peer_latencies.sum()
    report.line(f"pdq peer: {PEER_RATE_NOTE}, same bank, first {peer_queries} of the same queries")
    report.line(f"pdq peer recall of planted near-duplicates: {peer_found}/{peer_queries}")
    report.line(f"pdq peer and ours return identical match sets: {same}/{peer_queries}")
    report.line(f"pdq peer index build: {peer_build:.2f} s, RSS +{rss_peer / 2**20:.0f} MiB")
    report.line(f"pdq peer single-query throughput: {peer_qps:,.1f} q/s")
    report.line(
        f"pdq peer latency per query: p50 {np.percentile(peer_latencies, 50) * 1e3:.1f} ms, "
        f"p99 {np.percentile(peer_latencies, 99) * 1e3:.1f} ms"
    )
    report.line(f"pdq throughput ratio ours/peer: {ours_qps / peer_qps:,.0f}x (goal >= 50x)")


def bench_pdq_matcher(
    report: Report, bank: np.ndarray, query_hashes: np.ndarray, sources: np.ndarray, queries: int
) -> None:
    """The production path: signal rows (as loaded from the database) -> Matcher -> hits with provenance."""
    rows = SignalRows()
    all_hex = bank.tobytes().hex()  # (a fixed-width bytes view would drop trailing zero bytes)
    for i in range(len(bank)):
        rows.append(i, 1, "pdq", all_hex[64 * i : 64 * (i + 1)], f"indicator--{i}", 1, "")
    start = time.perf_counter()
    matcher = Matcher([BankInfo(1, "bench")], rows)
    build = time.perf_counter() - start
    hexes = [q.tobytes().hex() for q in query_hashes[:queries]]
    latencies, results = timed_queries(lambda i: matcher.match_pdq(hexes[i]), queries)
    found = sum(int(sources[i]) in {h.signal_id for h in results[i]} for i in range(queries))
    report.line(
        f"pdq matcher (hex in, hits with provenance out): build {build:.2f} s, {queries / latencies.sum():,.0f} q/s, "
        f"p50 {np.percentile(latencies, 50) * 1e3:.3f} ms, recall {found}/{queries}"
    )


def url_bank(size: int) -> SignalRows:
    rows = SignalRows()
    for i in range(size):
        if i % 5 == 0:
            rows.append(i, 1, "domain", f"site{i}.example{i % 50}.com", f"indicator--{i}", 1, "")
        else:
            rows.append(i, 1, "url", f"news{i}.example{i % 50}.com/politics/story-{i}?id={i}", f"indicator--{i}", 1, "")
    return rows


def url_queries(size: int, count: int, rng: np.random.Generator) -> list[str]:
    out = []
    for k, i in enumerate(rng.integers(0, size, count).tolist()):
        kind = k % 4
        if kind == 0:  # a banked URL written differently: scheme, www., trailing slash, tracking parameter
            i = i - i % 5 + 1  # rows with i % 5 == 0 hold domains
            out.append(f"https://www.news{i}.example{i % 50}.com/politics/story-{i}/?utm_source=tw&id={i}")
        elif kind == 1:  # a page on a subdomain of a banked domain
            d = i - i % 5
            out.append(f"http://cdn.site{d}.example{d % 50}.com/img/{k}.jpg")
        else:  # not in the bank
            out.append(f"https://unknown{k}.example.org/a/b?c={i}")
    return out


def bench_urls(report: Report, size: int, queries: int) -> None:
    from shieldwall.match.urls import split_url

    rows = url_bank(size)
    start = time.perf_counter()
    matcher = Matcher([BankInfo(1, "bench")], rows)
    build = time.perf_counter() - start
    raw = url_queries(size, queries, np.random.default_rng(7))
    split_url(raw[0])
    start = time.perf_counter()
    hits = 0
    for url in raw:
        canonical, host = split_url(url)
        hits += bool(matcher.match_url(canonical, host))
    elapsed = time.perf_counter() - start
    rate = queries / elapsed
    report.line(f"url bank: {size:,} signals ({size * 4 // 5:,} URLs, {size // 5:,} domains), built in {build:.2f} s")
    report.line(f"url lookups matched: {hits:,}/{queries:,} (expected {queries // 2:,})")
    report.line(
        f"url lookups per second (1 core, canonicalise + URL + parent domains): {rate:,.0f} "
        f"({rate / 50_000:.2f}x the 50,000 goal)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    args, _ = parser.parse_known_args()
    report = Report("match_pdq_url")
    if args.quick:
        bench_pdq(report, size=100_000, queries=2_000, peer_queries=100)
        bench_urls(report, size=100_000, queries=20_000)
    else:
        bench_pdq(report, size=1_000_000, queries=20_000, peer_queries=300)
        bench_urls(report, size=1_000_000, queries=200_000)
    report.line(f"peak RSS of the whole run: {rss_bytes('VmHWM') / 2**20:,.0f} MiB")
    report.save()


if __name__ == "__main__":
    main()
