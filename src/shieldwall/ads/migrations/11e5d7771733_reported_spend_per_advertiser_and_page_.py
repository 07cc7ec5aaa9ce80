"""reported spend per advertiser and page; wider import run formats

Revision ID: 11e5d7771733
Revises: 5e4c061207e1
Create Date: 2026-11-29 23:27:43.906152
"""

from alembic import op
import sqlalchemy as sa
import shieldwall.store.base


revision = '11e5d7771733'
down_revision = '5e4c061207e1'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ads_reported_spend',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('report', sa.String(length=32), nullable=False),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('scope', sa.String(length=200), nullable=False),
    sa.Column('current', sa.Boolean(), nullable=False),
    sa.Column('import_run_id', sa.Integer(), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.String(length=128), nullable=True),
    sa.Column('name', sa.String(length=300), nullable=True),
    sa.Column('disclaimer', sa.String(length=500), nullable=True),
    sa.Column('no_disclaimer', sa.Boolean(), nullable=False),
    sa.Column('sponsor_id', sa.Integer(), nullable=True),
    sa.Column('payer_sponsor_id', sa.Integer(), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('region', sa.String(length=120), nullable=True),
    sa.Column('district', sa.String(length=200), nullable=True),
    sa.Column('period_start', sa.Date(), nullable=True),
    sa.Column('period_end', sa.Date(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('spend_lower', sa.BigInteger(), nullable=False),
    sa.Column('spend_upper', sa.BigInteger(), nullable=True),
    sa.Column('ads_count', sa.Integer(), nullable=True),
    sa.Column('elections', sa.String(length=300), nullable=True),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['payer_sponsor_id'], ['ads_sponsors.id'], name=op.f('fk_ads_reported_spend_payer_sponsor_id_ads_sponsors')),
    sa.ForeignKeyConstraint(['sponsor_id'], ['ads_sponsors.id'], name=op.f('fk_ads_reported_spend_sponsor_id_ads_sponsors')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ads_reported_spend'))
    )
    with op.batch_alter_table('ads_reported_spend', schema=None) as batch_op:
        batch_op.create_index('ix_ads_reported_spend_country', ['country', 'no_disclaimer'], unique=False)
        batch_op.create_index('ix_ads_reported_spend_payer', ['payer_sponsor_id'], unique=False)
        batch_op.create_index('ix_ads_reported_spend_run', ['import_run_id'], unique=False)
        batch_op.create_index('ix_ads_reported_spend_scope', ['scope', 'current'], unique=False)
        batch_op.create_index('ix_ads_reported_spend_sponsor', ['sponsor_id'], unique=False)

    with op.batch_alter_table('ads_import_runs', schema=None) as batch_op:
        batch_op.alter_column('source_format',
               existing_type=sa.VARCHAR(length=16),
               type_=sa.String(length=32),
               existing_nullable=False)



def downgrade() -> None:
    with op.batch_alter_table('ads_import_runs', schema=None) as batch_op:
        batch_op.alter_column('source_format',
               existing_type=sa.String(length=32),
               type_=sa.VARCHAR(length=16),
               existing_nullable=False)

    with op.batch_alter_table('ads_reported_spend', schema=None) as batch_op:
        batch_op.drop_index('ix_ads_reported_spend_sponsor')
        batch_op.drop_index('ix_ads_reported_spend_scope')
        batch_op.drop_index('ix_ads_reported_spend_run')
        batch_op.drop_index('ix_ads_reported_spend_payer')
        batch_op.drop_index('ix_ads_reported_spend_country')

    op.drop_table('ads_reported_spend')
