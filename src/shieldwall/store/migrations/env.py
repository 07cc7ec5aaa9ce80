"""Alembic environment: the URL comes from the caller (shieldwall.store.migrate), never from a file."""

from __future__ import annotations

from alembic import context

from shieldwall.store.db import make_engine
from shieldwall.store.models import load_all_models

target_metadata = load_all_models()
url = context.config.attributes.get("database_url") or context.config.get_main_option("sqlalchemy.url")
if not url:
    raise RuntimeError("no database URL given to the migrations")

# When autogenerating for one capability, only its tables (by prefix) belong in the revision.
only_prefix = context.config.attributes.get("only_prefix")


def include_object(obj, name, type_, reflected, compare_to):
    table = obj if type_ == "table" else getattr(obj, "table", None)
    table_name = getattr(table, "name", name) or ""
    return only_prefix is None or table_name.startswith(only_prefix)


engine = make_engine(url)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
