"""STIX 2.1 validation with the OASIS stix2-validator's verdicts, one object at a time so errors name
the object.

`validate_object` first asks the fast path (fastvalidate.accepts), which only ever says "valid"
when stix2-validator would; everything else, and every error message, comes from the plain
stix2-validator call (`reference_validate_object`, which is `precheck` and then that call).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from stix2validator import ValidationOptions, validate_instance

from shieldwall.stix.fastvalidate import MAX_PARSED_PATTERN_CHARS, accepts
from shieldwall.stix.name_patterns import bad_name

# The TLP 2.0 marking definitions are official but newer than the validator's built-in list; and
# custom types/properties are allowed only in the x- namespace the spec reserves for them.
_OPTIONS = ValidationOptions(version="2.1", strict=False, disabled=["marking-definition-type"])


@dataclass(frozen=True)
class Invalid:
    object_id: str
    reason: str


def validate_object(obj: Any) -> str | None:
    """None when obj is valid STIX 2.1, else a one-line reason."""
    reason = precheck(obj)
    if reason is not None or accepts(obj):
        return reason
    return _too_costly(obj) or _reference(obj)


def _too_costly(obj: dict[str, Any]) -> str | None:
    """stix2-validator parses patterns with the pure-Python ANTLR runtime, about 22 us a character: one 10 MB
    pattern would hold a worker for minutes. A pattern the fast check accepts never gets there; past
    MAX_PARSED_PATTERN_CHARS in all, the full parser is not run and the object fails saying so."""
    chars = _pattern_chars(obj)
    if chars <= MAX_PARSED_PATTERN_CHARS:
        return None
    return (
        f"not validated: its patterns have {chars:,} characters in a shape the fast check does not know, and the "
        f"full STIX pattern parser is given at most {MAX_PARSED_PATTERN_CHARS:,}; split it into several "
        "indicators"
    )


def _pattern_chars(value: Any) -> int:
    if isinstance(value, dict):
        own = value.get("pattern")
        return (len(own) if isinstance(own, str) else 0) + sum(
            _pattern_chars(v) for v in value.values() if isinstance(v, dict | list)
        )
    if isinstance(value, list):
        return sum(_pattern_chars(v) for v in value if isinstance(v, dict | list))
    return 0


MAX_DEPTH = 64  # far deeper than any STIX object needs; JSON serialisers give up at a few hundred levels


def precheck(obj: Any) -> str | None:
    """What makes obj invalid before any schema is read: shape, version, depth, and names that the
    validator's own schema regexes would take minutes to refuse (name_patterns)."""
    if not isinstance(obj, dict):
        return "not a JSON object"
    if "type" not in obj or "id" not in obj:
        return "missing the required 'type' or 'id' property"
    if obj.get("spec_version", "2.1") != "2.1":
        return f"spec_version {obj.get('spec_version')!r} is not 2.1"
    if _too_deep(obj):
        return f"nested more than {MAX_DEPTH} levels deep"
    return bad_name(obj)


def _too_deep(obj: dict[str, Any]) -> bool:
    level: list[Any] = [obj]
    for _ in range(MAX_DEPTH):
        level = [
            child
            for value in level
            for child in (value.values() if isinstance(value, dict) else value)
            if isinstance(child, dict | list)
        ]
        if not level:
            return False
    return True


def reference_validate_object(obj: Any) -> str | None:
    """validate_object through stix2-validator alone (slow: ~3 ms); the fast path's yardstick."""
    return precheck(obj) or _reference(obj)


def _reference(obj: dict[str, Any]) -> str | None:
    """stix2-validator's verdict on an object that passed precheck."""
    try:
        result = validate_instance(obj, _OPTIONS)
    except Exception as error:  # the validator raises on some malformed inputs instead of reporting
        return f"invalid: {error}"
    if result.is_valid:
        return None
    return "; ".join(str(e.message) for e in result.errors[:5])


# The reference validator costs milliseconds per object; a request full of invalid objects must not hold a
# worker for minutes, so each request gets this much of it. What is left unchecked fails, and says why.
REFERENCE_BUDGET_SECONDS = 2.0


def validate_objects(
    objects: list[Any], budget_seconds: float = REFERENCE_BUDGET_SECONDS
) -> tuple[list[dict[str, Any]], list[Invalid]]:
    valid: list[dict[str, Any]] = []
    invalid: list[Invalid] = []
    deadline = time.monotonic() + budget_seconds
    for index, obj in enumerate(objects):
        reason = precheck(obj)
        if reason is None and not accepts(obj):
            reason = _too_costly(obj) or (
                _reference(obj)
                if time.monotonic() < deadline
                else "not validated: this request used its validation time on objects the fast check could not "
                "accept (most of them invalid); send it again in smaller batches"
            )
        if reason is None:
            valid.append(obj)
        else:
            object_id = obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), str) else None
            invalid.append(Invalid(object_id or f"objects[{index}]", reason))
    return valid, invalid
