"""one truth: 未叫醒 time, the 提示函 series, the number a call went to

Revision ID: c11a0d3e5f21
Revises: 64becca3588f
Create Date: 2026-11-23 06:20:00
"""
from alembic import op
import sqlalchemy as sa
import models.types


revision = 'c11a0d3e5f21'
down_revision = '64becca3588f'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('obligations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unwoken_at', models.types.LocalTime(), nullable=True))
    with op.batch_alter_table('warnings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('serial', sa.Integer(), nullable=True))
    with op.batch_alter_table('call_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=32), nullable=True))
        batch_op.create_index('ix_call_records_phone', ['phone'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('call_records', schema=None) as batch_op:
        batch_op.drop_index('ix_call_records_phone')
        batch_op.drop_column('phone')
    with op.batch_alter_table('warnings', schema=None) as batch_op:
        batch_op.drop_column('serial')
    with op.batch_alter_table('obligations', schema=None) as batch_op:
        batch_op.drop_column('unwoken_at')
