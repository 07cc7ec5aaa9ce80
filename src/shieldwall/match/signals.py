"""The kinds of signal a bank holds and a matcher compares, and the one value object that carries them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class SignalType(StrEnum):
    PDQ = "pdq"  # 64 hex digits, 256-bit perceptual image hash; near match by Hamming distance
    MD5 = "md5"  # exact file bytes
    SHA256 = "sha256"  # exact file bytes
    URL = "url"  # canonical URL (see urls.canonical_url)
    DOMAIN = "domain"  # a domain; matches itself and every subdomain
    ACCOUNT = "account"  # "platform:handle" or "platform:id:123" ("*" as platform: any platform)
    TEXT = "text"  # normalised text; near match by MinHash Jaccard estimate
    VPDQ = "vpdq"  # a video's distinct frame PDQ hashes, comma-separated; matched frame by frame (video.py)


@dataclass(frozen=True)
class Signal:
    """One signal as read from a source, before it is stored in a bank."""

    type: SignalType
    value: str
    source_id: str = ""  # the STIX object it came from (indicator id), empty when entered by hand
    name: str = ""
