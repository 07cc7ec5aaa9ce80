"""import runs: status, finished_at, error

Revision ID: 5e4c061207e1
Revises: 2d3b72560267
Create Date: 2026-11-29 22:58:29.073375
"""

import sqlalchemy as sa
from alembic import op

import shieldwall.store.base

revision = "5e4c061207e1"
down_revision = "2d3b72560267"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Runs recorded before this revision all completed: they were written only at the end.
    with op.batch_alter_table("ads_import_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=16), server_default="finished", nullable=False))
        batch_op.add_column(sa.Column("finished_at", shieldwall.store.base.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ads_import_runs", schema=None) as batch_op:
        batch_op.drop_column("error")
        batch_op.drop_column("finished_at")
        batch_op.drop_column("status")
