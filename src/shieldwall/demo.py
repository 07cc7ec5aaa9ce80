"""The demo every capability contributes to: `<capability>.demo.load(database, settings, console)`.

The exchange goes first because the others publish through it.
"""

from __future__ import annotations

import importlib

from rich.console import Console

from shieldwall.config import Settings
from shieldwall.store.db import Database
from shieldwall.store.migrate import upgrade

ORDER = ("exchange", "detect", "match", "ads", "threatmodel")


def load_demo(settings: Settings, *, if_empty: bool, console: Console) -> None:
    upgrade(settings.database_url)
    database = Database(settings.database_url)
    try:
        exchange_demo = importlib.import_module("shieldwall.exchange.demo")
        if if_empty and not exchange_demo.is_empty(database):
            console.print("demo: the hub already has data; leaving it as it is")
            return
        for name in ORDER:
            module_name = f"shieldwall.{name}.demo"
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as error:
                if error.name == module_name:
                    continue
                raise
            console.print(f"demo: loading {name}")
            module.load(database, settings, console)
    finally:
        database.dispose()
