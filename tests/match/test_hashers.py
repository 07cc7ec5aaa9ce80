"""Hashers: canonical URLs and domains, accounts, text MinHash, file types and PDQ compatibility."""

from __future__ import annotations

import numpy as np
import pytest

from shieldwall.match.accounts import AccountError, canonical_account
from shieldwall.match.errors import ItemError
from shieldwall.match.files import hash_file, pdq_of_image
from shieldwall.match.signals import SignalType
from shieldwall.match.text import minhash, normalise_text, similarity
from shieldwall.match.urls import UrlError, canonical_domain, canonical_url, registrable_domain, split_url
from tests.match.images import encode, near_duplicate, picture


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("HTTPS://WWW.Example.com:443/a/b/?utm_source=x&b=2&a=1#top", "example.com/a/b?a=1&b=2"),
        ("http://example.com/a/b?a=1&b=2&fbclid=zz", "example.com/a/b?a=1&b=2"),
        ("example.com/", "example.com"),
        ("http://example.com:8080/x", "example.com:8080/x"),
        ("https://bücher.example/ä", "xn--bcher-kva.example/%C3%A4"),
        ("https://news.example.org/x/../y/./z", "news.example.org/y/z"),
        ("https://user:pw@example.com/p%7e", "example.com/p~"),
        ("HTTP://Example.COM.", "example.com"),
        ("http://example.com:80/a?utm_medium=x", "example.com/a"),
        ("https://www.example.com/a/./b/../c?z=1&y=2#x", "example.com/a/c?y=2&z=1"),
        ("https://example.com/caf\u00e9?q=\u00e9", "example.com/caf%C3%A9?q=%C3%A9"),
    ],
)
def test_canonical_url(raw: str, canonical: str) -> None:
    assert canonical_url(raw) == canonical


def test_split_url_keeps_the_host_as_written_for_domain_matching() -> None:
    assert split_url("https://www.Example.com/a") == ("example.com/a", "www.example.com")


@pytest.mark.parametrize("bad", ["", "ftp://example.com/x", "http://exa mple.com/", "http://[::1/"])
def test_bad_urls_are_refused_with_a_reason(bad: str) -> None:
    with pytest.raises(UrlError):
        canonical_url(bad)


def test_registrable_domain_uses_the_shipped_public_suffix_list() -> None:
    assert registrable_domain("news.bbc.co.uk") == "bbc.co.uk"
    assert registrable_domain("a.b.example.com") == "example.com"
    assert canonical_domain("https://News.Example.COM./x") == "news.example.com"
    with pytest.raises(UrlError, match="public suffix"):
        canonical_domain("co.uk")


def test_accounts() -> None:
    assert canonical_account("twitter:@Jane_Doe") == "twitter:jane_doe"
    assert canonical_account("X:jane_doe") == "twitter:jane_doe"
    assert canonical_account("twitter:id:12345") == "twitter:id:12345"
    assert canonical_account("@Jane") == "*:jane"
    with pytest.raises(AccountError, match="not numeric"):
        canonical_account("twitter:id:abc")
    with pytest.raises(AccountError):
        canonical_account("twitter:")


def test_text_minhash_finds_near_duplicates_and_separates_others() -> None:
    original = "The election was STOLEN! Share this before they delete it, polling stations in Springfield closed early"
    edited = (
        "the election was stolen!!! share this before they delete it - "
        "polling stations in springfield closed early today"
    )
    other = "Lovely weather at the county fair, the pies this year were excellent and the queue was short"
    a, b, c = (minhash(normalise_text(t)) for t in (original, edited, other))
    assert similarity(a, b) >= 0.8
    assert similarity(a, c) < 0.2
    assert normalise_text("Hello,   WORLD https://t.co/x @someone!") == "hello world"


# python-threatexchange's pdq_from_bytes() of picture(3) as PNG (computed with threatexchange 1.2.17; it is
# a bench-only dependency, so the value is pinned here rather than imported in every test run).
THREATEXCHANGE_PDQ_OF_PICTURE_3 = "601d25e527a461e43c7edc8ad4c294f4e61c713b4a754b15611b9e1bbcc5a5af"


def test_pdq_hex_is_the_same_as_python_threatexchange() -> None:
    ours, quality = pdq_of_image("p.png", encode(picture(3)))
    assert ours == THREATEXCHANGE_PDQ_OF_PICTURE_3
    assert quality >= 50


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_image_formats_hash_and_near_duplicates_stay_close(fmt: str) -> None:
    image = picture(7)
    original = hash_file("a.png", encode(image))
    copy = hash_file(f"b.{fmt.lower()}", encode(near_duplicate(image), fmt))
    assert copy.kind == fmt.lower()
    a = bytes.fromhex(original.hashes[SignalType.PDQ])
    b = bytes.fromhex(copy.hashes[SignalType.PDQ])
    distance = int(np.unpackbits(np.frombuffer(a, np.uint8) ^ np.frombuffer(b, np.uint8)).sum())
    assert distance <= 31
    assert len(copy.hashes[SignalType.SHA256]) == 64 and len(copy.hashes[SignalType.MD5]) == 32


def test_bad_files_get_clear_errors() -> None:
    with pytest.raises(ItemError, match="empty"):
        hash_file("empty.jpg", b"")
    with pytest.raises(ItemError, match="over the limit of 1,000 bytes"):
        hash_file("big.png", encode(picture(1)), max_bytes=1000)
    with pytest.raises(ItemError, match="corrupt or truncated image"):
        hash_file("broken.jpg", encode(picture(1), "JPEG")[:200])
    with pytest.raises(ItemError, match="unsupported file type"):
        hash_file("blob.bin", bytes(range(256)) * 4)


def test_text_and_other_files() -> None:
    text = hash_file("post.txt", b"Vote on Wednesday, not Tuesday!")
    assert text.kind == "text" and text.text and SignalType.PDQ not in text.hashes
    pdf = hash_file("doc.pdf", b"%PDF-1.7 something")
    assert pdf.kind == "pdf" and SignalType.SHA256 in pdf.hashes


def test_minhash_in_chunks_equals_minhash_at_once() -> None:
    """minhash hashes shingles in blocks (bounded memory); the minima must be those of all shingles at once."""
    import numpy as np

    from shieldwall.match import text

    rng = np.random.default_rng(7)
    long_text = " ".join("".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), 6)) for _ in range(40_000))
    shingles = text.shingle_hashes(long_text)
    assert shingles.size > 2 * text._CHUNK  # several blocks
    with np.errstate(over="ignore"):
        at_once = ((shingles[:, None] * text._A[None, :] + text._B[None, :]) >> np.uint64(32)).min(axis=0)
    assert np.array_equal(text.minhash(long_text), at_once.astype(np.uint32))
