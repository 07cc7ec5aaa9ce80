"""Autogenerate a migration for one capability's tables.

    python -m shieldwall.store.new_migration CAPABILITY PREFIX "message"

e.g. `python -m shieldwall.store.new_migration ads ads_ "sponsors"`. The revision goes on the capability's
own branch (created on first use), compared against a scratch SQLite database at that branch's head.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory

from shieldwall.store.migrate import PACKAGE_DIR, alembic_config


def main(capability: str, prefix: str, message: str) -> None:
    versions = PACKAGE_DIR / capability / "migrations"
    versions.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'scratch.db'}"
        config = alembic_config(url)
        config.attributes["only_prefix"] = prefix
        script = ScriptDirectory.from_config(config)
        has_branch = any(capability in (rev.branch_labels or ()) for rev in script.walk_revisions())
        if has_branch:
            command.upgrade(config, "heads")
            command.revision(config, message=message, autogenerate=True, head=f"{capability}@head")
        else:
            command.upgrade(config, "heads")
            command.revision(
                config,
                message=message,
                autogenerate=True,
                head="base",
                branch_label=capability,
                version_path=str(versions),
            )


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
