"""Signals out of STIX 2.1 indicators.

Accepted indicator patterns (pattern_type 'stix'): one or more `[ ... ]` observation expressions joined by
OR, each holding `=` comparisons joined by OR (or by AND for a user account's type and login):

    [url:value = 'https://example.com/a']                       -> url (canonicalised)
    [domain-name:value = 'example.com']                         -> domain (and every subdomain)
    [user-account:account_login = 'jane']                       -> account '*:jane' (any platform)
    [user-account:account_type = 'twitter' AND user-account:account_login = 'jane']   -> 'twitter:jane'
    [user-account:account_type = 'twitter' AND user-account:user_id = '42']           -> 'twitter:id:42'
    [file:hashes.'SHA-256' = '...'] / [file:hashes.MD5 = '...']  -> sha256 / md5
    [file:hashes.PDQ = '<64 hex>'] (also 'PDQ', pdq)             -> pdq
    [x-text:value = '...']                                      -> text (normalised, MinHash near match)

A PDQ hash can also travel as a custom property on the indicator whose name starts with 'x_' and contains
'pdq' (e.g. `x_pdq_hash`), holding one 64-hex string or a list of them. Other operators (LIKE, MATCHES,
!=), qualifiers (WITHIN, REPEATS) and object paths are reported as unsupported for that indicator.
Revoked indicators and those past `valid_until` remove their signals instead of adding them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shieldwall.match.accounts import AccountError, canonical_account
from shieldwall.match.signals import Signal, SignalType
from shieldwall.match.text import TextError, normalise_text
from shieldwall.match.urls import UrlError, canonical_domain, canonical_url
from shieldwall.pdq import hex_to_bytes
from shieldwall.stix.tlp import TLP, tlp_of

_TOKEN = re.compile(
    r"\s*(?:(?P<open>\[)|(?P<close>\])|(?P<join>AND|OR)(?![\w-])"
    r"|(?P<path>[a-z0-9-]+:[A-Za-z0-9_.'\-]+)\s*(?P<op>=|!=|<=|>=|<|>|LIKE|MATCHES|IN)\s*"
    r"(?:'(?P<value>(?:[^'\\]|\\.)*)')?)"
)
_FILE_HASH = re.compile(r"^file:hashes\.'?(?P<algo>[A-Za-z0-9-]+)'?$")
_HASH_TYPES = {
    "sha-256": SignalType.SHA256,
    "sha256": SignalType.SHA256,
    "md5": SignalType.MD5,
    "pdq": SignalType.PDQ,
    "vpdq": SignalType.VPDQ,
}


class PatternError(ValueError):
    pass


@dataclass
class IndicatorSignals:
    source_id: str
    modified: str
    tlp: TLP
    valid_until: datetime | None
    revoked: bool
    name: str
    signals: list[Signal] = field(default_factory=list)
    error: str = ""


def parse_timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def parse_pattern(pattern: str) -> list[list[tuple[str, str]]]:
    """Observation expressions as lists of (path, value) comparisons; raises PatternError if unsupported."""
    groups: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] | None = None
    joins_inside: set[str] = set()
    pos, expect_join = 0, False
    text = pattern.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise PatternError(f"cannot read pattern at {text[pos : pos + 30]!r} (qualifiers are not supported)")
        pos = m.end()
        if m.group("open"):
            if current is not None:
                raise PatternError("nested brackets are not supported")
            current, expect_join = [], False
        elif m.group("close"):
            if current is None or not current:
                raise PatternError("empty or unbalanced brackets")
            groups.append(current)
            current, expect_join = None, True
        elif m.group("join"):
            if current is None:
                if m.group("join") != "OR":
                    raise PatternError("only OR may join observation expressions")
            else:
                joins_inside.add(m.group("join"))
            expect_join = False
        else:
            if current is None or expect_join:
                raise PatternError("comparison outside brackets")
            if m.group("op") != "=" or m.group("value") is None:
                raise PatternError(f"only '=' comparisons with a quoted value are supported, not {m.group('op')!r}")
            current.append((m.group("path"), _unescape(m.group("value"))))
            expect_join = True
    if current is not None or not groups:
        raise PatternError("unbalanced brackets")
    if joins_inside == {"AND", "OR"}:
        raise PatternError("mixing AND and OR inside one observation expression is not supported")
    if "AND" in joins_inside:
        for group in groups:
            if not all(path.startswith("user-account:") for path, _ in group):
                raise PatternError("AND is only supported between a user account's type and login or id")
        return [[("@and", ""), *g] for g in groups]
    return groups


def _account_signals(group: list[tuple[str, str]]) -> list[Signal]:
    platform = next((v for p, v in group if p == "user-account:account_type"), None)
    out = []
    for path, value in group:
        if path == "user-account:account_login":
            out.append(Signal(SignalType.ACCOUNT, canonical_account(value, platform or "")))
        elif path == "user-account:user_id":
            out.append(Signal(SignalType.ACCOUNT, canonical_account(value, platform or "", is_id=True)))
    return out


def signal_of(path: str, value: str) -> Signal | None:
    if path == "url:value":
        return Signal(SignalType.URL, canonical_url(value))
    if path == "domain-name:value":
        return Signal(SignalType.DOMAIN, canonical_domain(value))
    if path == "x-text:value":
        return Signal(SignalType.TEXT, normalise_text(value))
    if path in ("user-account:account_login", "user-account:user_id"):
        return _account_signals([(path, value)])[0]
    file_hash = _FILE_HASH.match(path)
    if file_hash:
        kind = _HASH_TYPES.get(file_hash.group("algo").lower())
        if kind is None:
            return None
        if kind is SignalType.VPDQ:
            from shieldwall.match.video import VpdqError, canonical_vpdq

            try:
                return Signal(kind, canonical_vpdq(value))
            except VpdqError as error:
                raise PatternError(str(error)) from None
        return Signal(kind, checked_hash(kind, value))
    return None


def checked_hash(kind: SignalType, value: str) -> str:
    text = value.strip().lower()
    length = {SignalType.MD5: 32, SignalType.SHA256: 64, SignalType.PDQ: 64}[kind]
    if len(text) != length or any(c not in "0123456789abcdef" for c in text):
        raise PatternError(f"{kind.value} hash {value!r} is not {length} hex digits")
    if kind is SignalType.PDQ:
        hex_to_bytes([text])
    return text


def signals_of_indicator(obj: dict[str, Any]) -> list[Signal]:
    """Every signal an indicator carries; raises PatternError / UrlError / AccountError with the reason."""
    signals: list[Signal] = []
    pattern_type = obj.get("pattern_type", "stix")
    if pattern_type == "stix" and obj.get("pattern"):
        unsupported: list[str] = []
        for group in parse_pattern(str(obj["pattern"])):
            if group[0][0] == "@and":
                signals += _account_signals(group[1:])
                continue
            for path, value in group:
                signal = signal_of(path, value)
                if signal is None:
                    unsupported.append(path)
                else:
                    signals.append(signal)
        if unsupported and not signals:
            raise PatternError(f"no supported object path in pattern (saw {', '.join(sorted(set(unsupported)))})")
    for key, value in obj.items():
        if key.startswith("x_") and "pdq" in key.lower():
            for item in value if isinstance(value, list) else [value]:
                signals.append(Signal(SignalType.PDQ, checked_hash(SignalType.PDQ, str(item))))
    if not signals:
        raise PatternError(f"pattern_type {pattern_type!r} with no signal we can match")
    name = str(obj.get("name", ""))
    source = str(obj.get("id", ""))
    return [Signal(s.type, s.value, source, name) for s in dict.fromkeys(signals)]


def read_indicator(obj: dict[str, Any], default_tlp: TLP) -> IndicatorSignals:
    marked = tlp_of(obj)  # TLP.CLEAR is 0: compare with None, not truthiness
    result = IndicatorSignals(
        source_id=str(obj.get("id", "")),
        modified=str(obj.get("modified") or obj.get("created") or ""),
        tlp=default_tlp if marked is None else marked,
        valid_until=None,
        revoked=bool(obj.get("revoked", False)),
        name=str(obj.get("name", "")),
    )
    try:
        if obj.get("valid_until"):
            result.valid_until = parse_timestamp(str(obj["valid_until"]))
        if not result.revoked:
            result.signals = signals_of_indicator(obj)
    except (PatternError, UrlError, AccountError, TextError, ValueError) as error:
        result.error = str(error)
    return result


def indicators_in(document: Any) -> tuple[list[dict[str, Any]], int]:
    """The indicator objects of a bundle, a TAXII envelope, a list or one object; and how many others."""
    if isinstance(document, dict):
        objects = document.get("objects") if "objects" in document else [document]
    elif isinstance(document, list):
        objects = document
    else:
        raise ValueError("expected a STIX bundle, a TAXII envelope, a list of objects or one object")
    objects = [o for o in objects or [] if isinstance(o, dict)]
    indicators = [o for o in objects if o.get("type") == "indicator"]
    return indicators, len(objects) - len(indicators)
