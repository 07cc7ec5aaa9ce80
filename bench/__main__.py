"""`python -m bench [--quick] [NAME...]`: run every benchmark module (or the named ones) in turn."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def main() -> None:
    args = sys.argv[1:]
    names = [a for a in args if not a.startswith("-")]
    flags = [a for a in args if a.startswith("-")]
    modules = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if not m.name.startswith("_"))
    chosen = [m for m in modules if not names or m in names]
    for name in chosen:
        module = importlib.import_module(f"bench.{name}")
        if not hasattr(module, "main"):
            continue
        print(f"== bench.{name}", flush=True)
        started = time.perf_counter()
        sys.argv = [f"bench.{name}", *flags]
        module.main()
        print(f"== bench.{name} took {time.perf_counter() - started:.1f} s", flush=True)


if __name__ == "__main__":
    main()
