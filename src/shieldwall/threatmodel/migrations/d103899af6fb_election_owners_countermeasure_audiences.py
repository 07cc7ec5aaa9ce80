"""election owners, countermeasure audiences

Revision ID: d103899af6fb
Revises: a26dd154a216
Create Date: 2026-11-29 22:54:21.779325
"""

from alembic import op
import sqlalchemy as sa
import shieldwall.store.base


revision = 'd103899af6fb'
down_revision = 'a26dd154a216'
branch_labels = None
# The backfill reads the exchange's objects and organisations (first publisher of each election's STIX id).
depends_on = '04eed65d584e'


def upgrade() -> None:
    with op.batch_alter_table('tm_countermeasures', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('audience', sa.String(length=16), server_default='organisation', nullable=False)
        )
        batch_op.add_column(sa.Column('trust_group_id', sa.Integer(), nullable=True))

    with op.batch_alter_table('tm_elections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('org_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_tm_elections_org_id'), ['org_id'], unique=False)

    _backfill()


def _backfill() -> None:
    """Elections: owned by the organisation that first published their STIX object (the hub's when none did).
    Countermeasures: keep exactly who reads them today (the election's current trust group, or every member
    organisation when it has none), now fixed on the row so a later change of the election moves nothing."""
    elections = sa.table(
        'tm_elections', sa.column('id'), sa.column('stix_id'), sa.column('org_id'), sa.column('trust_group_id')
    )
    measures = sa.table(
        'tm_countermeasures', sa.column('election_id'), sa.column('audience'), sa.column('trust_group_id')
    )
    objects = sa.table('ex_objects', sa.column('pk'), sa.column('stix_id'), sa.column('publisher_org_id'))
    orgs = sa.table('ex_organisations', sa.column('id'), sa.column('kind'))
    versions = objects.alias('versions')
    first_pk = (
        sa.select(sa.func.min(versions.c.pk))
        .where(versions.c.stix_id == elections.c.stix_id)
        .correlate(elections)
        .scalar_subquery()
    )
    publisher = (
        sa.select(objects.c.publisher_org_id).where(objects.c.pk == first_pk).correlate(elections).scalar_subquery()
    )
    hub = sa.select(sa.func.min(orgs.c.id)).where(orgs.c.kind == 'hub').scalar_subquery()
    op.execute(elections.update().values(org_id=sa.func.coalesce(publisher, hub)))

    group = (
        sa.select(elections.c.trust_group_id).where(elections.c.id == measures.c.election_id).scalar_subquery()
    )
    op.execute(
        measures.update().values(
            trust_group_id=group,
            audience=sa.case((group.is_(None), sa.literal('members')), else_=sa.literal('trust-group')),
        )
    )


def downgrade() -> None:
    with op.batch_alter_table('tm_elections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tm_elections_org_id'))
        batch_op.drop_column('org_id')

    with op.batch_alter_table('tm_countermeasures', schema=None) as batch_op:
        batch_op.drop_column('trust_group_id')
        batch_op.drop_column('audience')
