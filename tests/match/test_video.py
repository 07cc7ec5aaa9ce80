"""Video: vPDQ signals, matched frame by frame (80% of the query's frames within 31 bits of the bank video's).

The matching rules run everywhere on synthetic frame hashes; hashing real video files needs the `vpdq`
package and ffmpeg, so those tests are skipped where they are not installed (the `video` extra); CI installs both.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import httpx
import numpy as np
import pytest

from shieldwall.match.banks import add_signals, create_bank
from shieldwall.match.matcher import BankInfo, Matcher, SignalRows
from shieldwall.match.service import match_value, signal_from_value
from shieldwall.match.signals import Signal, SignalType
from shieldwall.match.video import VpdqError, canonical_vpdq
from shieldwall.stix.tlp import TLP
from shieldwall.store.db import Database
from tests.conftest import missing
from tests.support.live import LiveServer


def frames(rng: np.random.Generator, count: int) -> list[str]:
    return [bytes(h).hex() for h in rng.integers(0, 256, (count, 32), dtype=np.uint8)]


def noisy(hexes: list[str], bits: int, rng: np.random.Generator) -> list[str]:
    out = []
    for h in hexes:
        value = np.frombuffer(bytes.fromhex(h), dtype=np.uint8).copy()
        unpacked = np.unpackbits(value)
        unpacked[rng.choice(256, bits, replace=False)] ^= 1
        out.append(np.packbits(unpacked).tobytes().hex())
    return out


def test_canonical_form_accepts_frame_lists_and_threatexchange_json() -> None:
    a, b = "a" * 64, "B" * 64
    assert canonical_vpdq(f"{b}, {a} {a}") == f"{a},{b.lower()}"
    json_form = json.dumps([f"{a},100,0.000", f"{b},20,1.000", f"{a},90,2.000"])
    assert canonical_vpdq(json_form) == a  # quality 20 dropped, duplicates merged
    for bad in ("", "abc", json.dumps([f"{b},20,0.0"]), "[1, 2]", "[not json"):
        with pytest.raises(VpdqError):
            canonical_vpdq(bad)
    assert signal_from_value("vpdq", a).type is SignalType.VPDQ


def test_a_video_matches_when_most_of_its_frames_are_found() -> None:
    rng = np.random.default_rng(4)
    original = frames(rng, 20)
    other = frames(rng, 20)
    rows = SignalRows()
    rows.append(1, 1, "vpdq", ",".join(sorted(original)), "", int(TLP.CLEAR), "the original")
    rows.append(2, 1, "vpdq", ",".join(sorted(other)), "", int(TLP.CLEAR), "another video")
    matcher = Matcher([BankInfo(1, "videos")], rows)
    # Re-encoded: every frame a few bits off. A clip of 16 of the 20 frames also matches (all its frames found).
    for query in (noisy(original, 12, rng), original[:16], noisy(original[:10], 20, rng) + frames(rng, 2)):
        result = match_value(matcher, "vpdq", ",".join(query))
        assert [h.signal_id for h in result.matches] == [1], query[:1]
        assert result.matches[0].how == "video"
    # Under 80% of the query's frames found: not the same video.
    mixed = original[:7] + frames(rng, 3)
    assert match_value(matcher, "vpdq", ",".join(mixed)).matches == []
    assert match_value(matcher, "vpdq", ",".join(noisy(original, 40, rng))).matches == []


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", *args], check=True, timeout=120)


@pytest.fixture
def videos(tmp_path: Path) -> dict[str, bytes]:
    try:
        import vpdq  # noqa: F401
    except ImportError:
        missing("the vpdq package (the 'video' extra)")
    if shutil.which("ffmpeg") is None:
        missing("ffmpeg (Debian package ffmpeg)")
    original, reencoded, other = (tmp_path / f"{n}.mp4" for n in ("original", "reencoded", "other"))
    encode = ("-t", "6", "-pix_fmt", "yuv420p", "-c:v", "libx264")
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=640x360:rate=10", *encode, "-crf", "18", str(original))
    # The same video as a platform would re-serve it: a quarter of the pixels, heavy compression.
    _ffmpeg("-i", str(original), "-vf", "scale=320:180", "-c:v", "libx264", "-crf", "35", str(reencoded))
    _ffmpeg("-f", "lavfi", "-i", "mandelbrot=size=320x180:rate=10", *encode, "-crf", "23", str(other))
    return {"original": original.read_bytes(), "reencoded": reencoded.read_bytes(), "other": other.read_bytes()}


def test_uploaded_videos_are_hashed_and_matched_over_http(
    live_server: LiveServer, videos: dict[str, bytes], tmp_path: Path
) -> None:
    from shieldwall.match.video import frames_of, vpdq_of_video

    database: Database = live_server.app.state.database
    banked = vpdq_of_video("original.mp4", videos["original"])
    assert len(frames_of(banked)) >= 3
    with database.session() as session:
        bank = create_bank(session, "videos")
        add_signals(session, bank, [Signal(SignalType.VPDQ, banked, name="known video")], tlp=TLP.CLEAR)
    files = [
        ("files", ("reencoded.mp4", videos["reencoded"], "video/mp4")),
        ("files", ("other.mp4", videos["other"], "video/mp4")),
    ]
    response = httpx.post(f"{live_server.url}/api/match", files=files, timeout=60)
    assert response.status_code == 200, response.text
    reencoded, other = response.json()["results"]
    assert reencoded["detail"]["type"] == "mp4" and reencoded["detail"]["vpdq_frames"] >= 3
    assert [(m["bank"], m["how"]) for m in reencoded["matches"]] == [("videos", "video")]
    assert other["ok"] and other["matches"] == []
    # A file that only claims to be a video: its exact hashes still go through, with the reason for no vPDQ.
    broken = httpx.post(
        f"{live_server.url}/api/match", files=[("files", ("x.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64))]
    )
    result = broken.json()["results"][0]
    assert result["ok"] and "could not read the video" in result["detail"]["note"]


def test_video_queries_are_bounded(live_server: LiveServer) -> None:
    rng = np.random.default_rng(8)
    long_query = ",".join(frames(rng, 3_601))
    answer = httpx.post(f"{live_server.url}/api/match", json={"hashes": [{"type": "vpdq", "value": long_query}]})
    assert answer.status_code == 200 and "at most 3,600" in answer.json()["results"][0]["error"]
    many = [{"type": "vpdq", "value": "a" * 64}] * 11
    refused = httpx.post(f"{live_server.url}/api/match", json={"hashes": many})
    assert refused.status_code == 413 and "at most 10 videos" in refused.json()["detail"]
