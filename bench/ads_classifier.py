"""Political-ad classifier: held-out precision / recall / F1 per seed locale (and overall).

    python -m bench.ads_classifier [--quick]

Trained on the training split of every locale together (one multilingual model), evaluated on each
locale's held-out 20%. Peer in the same run: the majority-class baseline.
"""

from __future__ import annotations

import sys

from bench.ads_import_search import classifier_lines
from bench.report import Report


def main() -> None:
    report = Report("ads_classifier")
    classifier_lines(report, "--quick" in sys.argv)
    report.save()


if __name__ == "__main__":
    main()
