"""The demo every capability contributes to: `<capability>.demo.load(database, settings, console)`, in
capability order (the exchange first, because the others publish through it)."""

from __future__ import annotations

from rich.console import Console

from shieldwall import capabilities
from shieldwall.config import Settings
from shieldwall.store.db import Database
from shieldwall.store.migrate import upgrade


def load_demo(settings: Settings, *, if_empty: bool, console: Console) -> None:
    upgrade(settings.database_url)
    database = Database(settings.database_url)
    try:
        demos = capabilities.modules("demo")
        exchange_demo = dict(demos)["exchange"]
        if if_empty and not exchange_demo.is_empty(database):
            console.print("demo: the hub already has data; leaving it as it is")
            return
        for name, module in demos:
            console.print(f"demo: loading {name}")
            module.load(database, settings, console)
        for _, module in demos:  # what one capability derives from another's data (e.g. ads from elections)
            if hasattr(module, "finish"):
                module.finish(database, settings, console)
    finally:
        database.dispose()
