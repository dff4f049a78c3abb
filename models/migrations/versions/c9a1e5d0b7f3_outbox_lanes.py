"""outbox lanes and leases

Revision ID: c9a1e5d0b7f3
Revises: c10a7e5b2d41
Create Date: 2026-11-23 06:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'c9a1e5d0b7f3'
down_revision = 'c10a7e5b2d41'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('lane', sa.Integer(), nullable=False, server_default='6'))
        batch.add_column(sa.Column('lease', sa.Integer(), nullable=False, server_default='0'))
        batch.create_index('ix_outbox_due', ['status', 'transport', 'account', 'lane', 'next_attempt_at', 'id'])
        batch.create_index('ix_outbox_chat', ['transport', 'account', 'chat_id', 'lane', 'status'])


def downgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.drop_index('ix_outbox_chat')
        batch.drop_index('ix_outbox_due')
        batch.drop_column('lease')
        batch.drop_column('lane')
