"""Errors about one input item: the message names the item and says what is wrong and what to do."""

from __future__ import annotations


class ItemError(ValueError):
    """One item could not be hashed or matched; a batch records it and carries on."""

    def __init__(self, item: str, message: str) -> None:
        super().__init__(f"{item}: {message}")
        self.item = item
        self.message = message
