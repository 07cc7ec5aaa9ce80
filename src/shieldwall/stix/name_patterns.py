"""Linear-time stand-ins for the two exponential regexes in stix2-validator's schemas.

core.json and cyber-observable-core.json match an object's `type` with ^([a-z][a-z0-9]*)+(-[a-z0-9]+)*\\-?$
and each key of its `extensions` with the same head and \\-ext$. Python's backtracking engine tries every
way to split a run of letters between the iterations of `([a-z][a-z0-9]*)+` before it gives up, so a
type of 30 letters and a '!' takes minutes, and a few more letters hours, all with the GIL held: no
timeout, signal or other thread runs meanwhile. One such object posted to the hub stalled a worker for good.

Any concatenation of [a-z][a-z0-9]* is itself [a-z][a-z0-9]*, so without the group's `+` the regex
matches exactly the same strings, in linear time. The fast path compiles the schema with these in their
place, and `validate.precheck` refuses a name that fails them before the reference validator sees it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

TYPE_NAME = r"^([a-z][a-z0-9]*)+(-[a-z0-9]+)*\-?$"
EXTENSION_NAME = r"^([a-z][a-z0-9]*)+(-[a-z0-9]+)*\-ext$"
EXTENSION_DEFINITION = (
    r"^extension-definition--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-5][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$"
)

_LINEAR = {
    TYPE_NAME: r"^[a-z][a-z0-9]*(-[a-z0-9]+)*-?$",
    EXTENSION_NAME: r"^[a-z][a-z0-9]*(-[a-z0-9]+)*-ext$",
}
_type_name = re.compile(_LINEAR[TYPE_NAME]).search
_extension_name = re.compile(_LINEAR[EXTENSION_NAME]).search
_extension_definition = re.compile(EXTENSION_DEFINITION).search


def linear(pattern: str) -> str:
    """The schema pattern to compile: its linear-time equivalent where it has one."""
    return _LINEAR.get(pattern, pattern)


def bad_name(obj: dict[str, Any]) -> str | None:
    """Why obj's type or an extension name fails the schema, for the places stix2-validator matches them.

    Those are the object's own `type` and `extensions` keys, the same in each object of a deprecated
    observed-data `objects` dictionary, and in each object of a bundle (read in validator._schema_validate).
    """
    for where, value, is_type in _names(obj, ""):
        if is_type:
            if isinstance(value, str) and not _type_name(value):
                return f"{where}: {_shown(value)} is not a STIX type name (lowercase letters, digits and hyphens)"
        elif not (_extension_name(value) or _extension_definition(value)):
            return (
                f"{where}: {_shown(value)} is neither an extension-definition id nor a predefined extension "
                "name ending in -ext"
            )
    return None


def _names(obj: dict[str, Any], prefix: str) -> Iterator[tuple[str, Any, bool]]:
    yield f"{prefix}type", obj.get("type"), True
    extensions = obj.get("extensions")
    if isinstance(extensions, dict):
        for key in extensions:
            if isinstance(key, str):
                yield f"{prefix}extensions", key, False
    nested = obj.get("objects")
    if obj.get("type") == "observed-data" and isinstance(nested, dict):
        for key, value in nested.items():
            if isinstance(value, dict):
                yield from _names(value, f"{prefix}objects[{_shown(str(key))}].")
    elif obj.get("type") == "bundle" and isinstance(nested, list):
        for index, value in enumerate(nested):
            if isinstance(value, dict):
                yield from _names(value, f"{prefix}objects[{index}].")


def _shown(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:57] + "...")
