"""The capabilities, in the order they build on each other, and the optional modules each may provide
(`routes`, `cli`, `demo`, `tables`). The exchange comes first: the others publish through it."""

from __future__ import annotations

import importlib
from types import ModuleType

CAPABILITIES = ("exchange", "detect", "match", "ads", "threatmodel")


def optional_module(capability: str, part: str) -> ModuleType | None:
    """`shieldwall.<capability>.<part>` if the capability has one. An import error inside it still raises."""
    name = f"shieldwall.{capability}.{part}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name == name:
            return None
        raise


def modules(part: str) -> list[tuple[str, ModuleType]]:
    """Every capability's `part` module, in capability order."""
    found = ((capability, optional_module(capability, part)) for capability in CAPABILITIES)
    return [(capability, module) for capability, module in found if module is not None]
