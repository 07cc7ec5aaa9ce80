"""The posts contract (DESIGN.md "Posts") as an Arrow schema, shared by every loader and engine."""

from __future__ import annotations

import pyarrow as pa

REQUIRED = ("post_id", "account_id", "created_at")
OPTIONAL_TEXT = ("platform", "text", "reshare_of", "reply_to", "lang")
# objects: typed ids "TYPE:ID" (url, domain, hashtag, picture, reshare, or any other type) from inputs in
# CooRTweet's shape, where links, sites and pictures arrive already resolved to ids (see objects.py).
LIST_FIELDS = ("urls", "hashtags", "media_pdq", "objects")
CONTRACT = REQUIRED + OPTIONAL_TEXT + LIST_FIELDS

# Where a post came from, so evidence and error messages can point back at the input.
PROVENANCE = ("source_file", "source_line")

POSTS_SCHEMA = pa.schema(
    [
        pa.field("post_id", pa.string(), nullable=False),
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("created_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("platform", pa.string()),
        pa.field("text", pa.string()),
        pa.field("reshare_of", pa.string()),
        pa.field("reply_to", pa.string()),
        pa.field("lang", pa.string()),
        pa.field("urls", pa.list_(pa.string())),
        pa.field("hashtags", pa.list_(pa.string())),
        pa.field("media_pdq", pa.list_(pa.string())),
        pa.field("objects", pa.list_(pa.string())),
        pa.field("source_file", pa.string()),
        pa.field("source_line", pa.int64()),
    ]
)
