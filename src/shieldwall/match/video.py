"""Video: vPDQ (Meta's video PDQ: a PDQ hash of a frame each second), matched frame by frame as
hasher-matcher-actioner and python-threatexchange do.

Frames of quality under 50 are dropped and identical frame hashes merged. A bank video matches a query
video when at least 80% of the query's frames are within 31 bits of some frame of the bank video (and at
least 0% of the bank video's frames are matched: threatexchange's defaults). Frame lookups go through the
shared exact PDQ index (shieldwall.pdq).

A vPDQ signal's canonical value is its distinct frame hashes, sorted and joined by commas. Accepted input:
that form (commas or spaces), or python-threatexchange's JSON list of "hex,quality,timestamp" strings.
Hashing a video file needs the `vpdq` package and ffmpeg (Debian's); without them video files still get
their exact hashes.
"""

from __future__ import annotations

import importlib.util
import json
import resource
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from shieldwall.match.errors import ItemError
from shieldwall.pdq import PdqIndex, hex_to_bytes

QUALITY = 50
DISTANCE = 31
QUERY_PERCENT = 80.0
BANK_PERCENT = 0.0
MAX_FRAMES = 20_000  # about five and a half hours at one frame a second
MAX_QUERY_FRAMES = 3_600  # a query video of up to an hour: one index lookup a frame
HASH_SECONDS = 300
HASH_MEMORY = 2 * 1024**3


class VpdqError(ValueError):
    pass


def _hex(text: str) -> str:
    value = text.strip().lower()
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise VpdqError(f"vPDQ frame {text[:70]!r} is not a 64-hex PDQ hash")
    return value


def canonical_vpdq(raw: str) -> str:
    """The canonical value of a vPDQ signal written in either accepted form (VpdqError says what is wrong)."""
    text = raw.strip()
    frames: list[str] = []
    if text.startswith("["):
        try:
            entries = json.loads(text)
        except json.JSONDecodeError as error:
            raise VpdqError(f"vPDQ JSON is not valid: {error}") from None
        if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
            raise VpdqError('vPDQ JSON must be a list of "hex,quality,timestamp" strings')
        for entry in entries:
            parts = entry.split(",")
            if len(parts) != 3 or not parts[1].strip().isdigit():
                raise VpdqError(f'vPDQ frame {entry[:90]!r} is not "hex,quality,timestamp"')
            if int(parts[1]) >= QUALITY:
                frames.append(_hex(parts[0]))
    else:
        frames = [_hex(part) for part in text.replace(",", " ").split()]
    unique = sorted(set(frames))
    if not unique:
        raise VpdqError(f"a vPDQ hash needs at least one frame of quality {QUALITY} or more")
    if len(unique) > MAX_FRAMES:
        raise VpdqError(f"a vPDQ hash may have at most {MAX_FRAMES:,} distinct frames")
    return ",".join(unique)


def frames_of(canonical: str) -> list[str]:
    return canonical.split(",") if canonical else []


def vpdq_of_video(name: str, data: bytes) -> str:
    """The canonical vPDQ of a video file's bytes (ItemError when it cannot be hashed).

    ffmpeg's decoders read the uploaded bytes in a child process with a time and memory limit, so a hostile
    or broken file can neither crash nor stall the server."""
    if importlib.util.find_spec("vpdq") is None:
        raise ItemError(name, "video hashing needs the vpdq package and ffmpeg (not installed here)")
    with tempfile.NamedTemporaryFile(suffix=".video") as handle:
        handle.write(data)
        handle.flush()
        try:
            done = subprocess.run(
                [sys.executable, "-m", "shieldwall.match.video", handle.name],
                capture_output=True,
                timeout=HASH_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ItemError(name, f"hashing the video took over {HASH_SECONDS} s") from None
    if done.returncode != 0:
        raise ItemError(name, "could not read the video (corrupt, truncated or an unsupported codec)")
    frames = done.stdout.decode("ascii", "replace").split()
    if not frames:
        raise ItemError(name, f"no frame of the video has PDQ quality {QUALITY} or more (blank or too dark)")
    return ",".join(sorted(set(frames))[:MAX_FRAMES])


def _main(path: str) -> int:
    """In the child process (its memory capped before any decoder runs): the frame hashes of quality >= 50,
    one a line."""
    resource.setrlimit(resource.RLIMIT_AS, (HASH_MEMORY, HASH_MEMORY))
    import vpdq

    try:
        features = vpdq.computeHash(path, seconds_per_hash=1.0)
    except Exception:  # the binding raises plain exceptions for what ffmpeg cannot read
        return 1
    sys.stdout.write("\n".join(f.hex for f in features if f.quality >= QUALITY))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1]))


@dataclass(frozen=True)
class VideoHit:
    row: int
    query_percent: float  # share of the query's frames found in the bank video
    bank_percent: float  # share of the bank video's frames found in the query


class VideoIndex:
    """Every frame of every bank video in one exact PDQ index, each frame knowing the videos it is in."""

    def __init__(self, videos: Sequence[tuple[int, str]]) -> None:
        self.rows = [row for row, _ in videos]
        self.frame_counts = [len(frames_of(value)) for _, value in videos]
        owners: dict[str, list[int]] = {}
        for position, (_, value) in enumerate(videos):
            for frame in frames_of(value):
                owners.setdefault(frame, []).append(position)
        self.frames = list(owners)
        self.owners = [owners[f] for f in self.frames]
        hashes = hex_to_bytes(self.frames) if self.frames else np.empty((0, 32), dtype=np.uint8)
        self.index = PdqIndex(hashes, DISTANCE)

    def match(self, canonical: str) -> list[VideoHit]:
        query = frames_of(canonical)
        if len(query) > MAX_QUERY_FRAMES:
            raise VpdqError(f"a vPDQ query may have at most {MAX_QUERY_FRAMES:,} distinct frames (an hour)")
        if not query or not self.frames:
            return []
        matched_query: dict[int, int] = {}  # video position -> query frames found in it
        matched_bank: dict[int, set[int]] = {}  # video position -> its frames found
        for frame in hex_to_bytes(query):
            videos: set[int] = set()
            for entry in self.index.search(frame)[0].tolist():
                for position in self.owners[entry]:
                    videos.add(position)
                    matched_bank.setdefault(position, set()).add(entry)
            for position in videos:
                matched_query[position] = matched_query.get(position, 0) + 1
        hits = []
        for position, found in matched_query.items():
            query_percent = 100.0 * found / len(query)
            bank_percent = 100.0 * len(matched_bank[position]) / self.frame_counts[position]
            if query_percent >= QUERY_PERCENT and bank_percent >= BANK_PERCENT:
                hits.append(VideoHit(self.rows[position], round(query_percent, 2), round(bank_percent, 2)))
        return sorted(hits, key=lambda h: -h.query_percent)
