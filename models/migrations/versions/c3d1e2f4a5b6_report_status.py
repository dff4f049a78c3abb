"""report status: 待核对 for reports whose parse cannot be trusted

Revision ID: c3d1e2f4a5b6
Revises: c11a0d3e5f21
Create Date: 2026-11-23 07:05:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'c3d1e2f4a5b6'
down_revision = 'c11a0d3e5f21'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inspection_reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False,
                                      server_default='registered'))
        batch_op.add_column(sa.Column('review_reason', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch_op.create_index(batch_op.f('ix_inspection_reports_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('inspection_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_reports_status'))
        batch_op.drop_column('review_reason')
        batch_op.drop_column('status')
