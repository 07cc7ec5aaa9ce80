"""Build the political-ad model that ships with the package, from labelled seed files.

    python -m shieldwall.ads.build_model ../shared/data/ads/political-classifier-seeds [-o PATH]

The seeds are ProPublica's Facebook Political Ad Collector seeds (MIT licence): 8 locales, de-AT to
nl-BE. The model is written to `shieldwall/ads/model/political.npz`, where `installed_scorer` finds it
when no local model was trained (`shieldwall ads train`). Nothing is downloaded, at build time or ever.
Build it with the `ads` extra installed: the file then holds the sentence-embedding weights beside the
character n-gram ones it falls back to (a few minutes: every seed text is embedded).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from shieldwall.ads.classifier import load_labelled, train_all

BUNDLED = Path(__file__).resolve().parent / "model" / "political.npz"


def build(seeds: Path, output: Path = BUNDLED) -> Path:
    files = sorted(seeds.glob("*.json"))
    if not files:
        raise SystemExit(f"no seed files (*.json) in {seeds}")
    started = time.perf_counter()
    model = train_all([(p.stem, *load_labelled(p)) for p in files])
    output.parent.mkdir(parents=True, exist_ok=True)
    model.save(output)
    took = time.perf_counter() - started
    paths = "sentence embeddings and character n-grams" if model.sentence else "character n-grams only"
    print(f"{output}: {output.stat().st_size:,} bytes ({paths}), from {len(files)} seed files in {took:.0f} s")
    return output


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if not arguments or arguments[0].startswith("-"):
        raise SystemExit(__doc__)
    target = Path(arguments[arguments.index("-o") + 1]) if "-o" in arguments else BUNDLED
    build(Path(arguments[0]), target)
