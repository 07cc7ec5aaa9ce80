"""Near-duplicate text groups on Spark, distributed: the shared NumPy MinHash runs on the executors.

The steps mirror minhash.near_duplicate_groups so both engines find the same groups: texts are
normalised and deduplicated (a text's id is its first post), signatures and LSH band keys are
computed per Arrow batch (mapInArrow), each bucket links its texts to its first text, and a link
counts when the signatures agree on `threshold` of their positions. Only the links that pass (a
small table) come to the driver, for connected components.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shieldwall.detect.grouping import components
from shieldwall.detect.minhash import band_keys, normalise_text, signatures
from shieldwall.detect.settings import DetectSettings


def text_groups_view(spark: Any, settings: DetectSettings, n_posts: int) -> None:
    """Create the temp view `text_groups(post_index, text_group)` from the view `p`."""
    min_length = max(settings.text_min_chars, settings.text_shingle)

    def normalise(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            normal = normalise_text(batch.column("text")).cast(pa.string())
            keep = pc.greater_equal(pc.fill_null(pc.utf8_length(normal), 0), min_length)
            yield pa.RecordBatch.from_arrays(
                [batch.column("post_index").filter(keep), normal.filter(keep)], names=["post_index", "normal"]
            )

    def sign(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            sig = signatures(
                batch.column("normal").to_pylist(), settings.text_num_perm, settings.text_shingle, settings.seed
            )
            keys = band_keys(sig, settings.text_num_perm, settings.text_threshold)
            yield pa.RecordBatch.from_arrays(
                [batch.column("text_id"), _list_column(sig.astype(np.int64)), _list_column(keys.view(np.int64))],
                names=["text_id", "sig", "keys"],
            )

    originals = spark.sql("SELECT post_index, text FROM p WHERE reshare_of IS NULL AND text IS NOT NULL")
    originals.mapInArrow(normalise, "post_index long, normal string").createOrReplaceTempView("tg_normal")
    spark.sql(
        "SELECT normal, min(post_index) AS text_id FROM tg_normal GROUP BY normal"
    ).cache().createOrReplaceTempView("tg_unique")
    sigs = spark.sql("SELECT text_id, normal FROM tg_unique").mapInArrow(
        sign, "text_id long, sig array<long>, keys array<long>"
    )
    sigs.cache().createOrReplaceTempView("tg_sigs")
    spark.sql("SELECT text_id, posexplode(keys) AS (band, key) FROM tg_sigs").createOrReplaceTempView("tg_buckets")
    links = spark.sql(
        f"""
        SELECT b.text_id AS member, r.rep FROM tg_buckets b
        JOIN (SELECT band, key, min(text_id) AS rep FROM tg_buckets GROUP BY band, key) r
          ON b.band = r.band AND b.key = r.key AND b.text_id <> r.rep
        JOIN tg_sigs m ON m.text_id = b.text_id JOIN tg_sigs s ON s.text_id = r.rep
        WHERE CAST(aggregate(zip_with(m.sig, s.sig, (x, y) -> IF(x = y, 1, 0)), 0, (a, v) -> a + v) AS DOUBLE)
              / {int(settings.text_num_perm)} >= {float(settings.text_threshold)!r}
        """
    ).toArrow()
    member = links.column("member").to_numpy()
    rep = links.column("rep").to_numpy()
    label = components(n_posts, member, rep)
    linked = np.unique(np.concatenate([member, rep]))
    spark.createDataFrame(
        pa.table({"text_id": pa.array(linked, pa.int64()), "grp": pa.array(label[linked], pa.int64())})
    ).createOrReplaceTempView("tg_labels")
    spark.sql(
        "SELECT n.post_index, coalesce(l.grp, u.text_id) AS text_group FROM tg_normal n "
        "JOIN tg_unique u ON u.normal = n.normal LEFT JOIN tg_labels l ON l.text_id = u.text_id"
    ).cache().createOrReplaceTempView("text_groups")


def _list_column(matrix: np.ndarray) -> pa.Array:
    """A 2-D array as an Arrow list column, one list per row, without a Python loop."""
    rows, width = matrix.shape
    offsets = pa.array(np.arange(0, rows * width + 1, width, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(matrix.ravel()))
