"""raw texts: a long inbound text is stored in parts, one short transaction each

Revision ID: d2b7c4e1a9f0
Revises: c9a1e5d0b7f3
Create Date: 2026-11-23 09:20:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'd2b7c4e1a9f0'
down_revision = 'c9a1e5d0b7f3'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'raw_texts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('body', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('original', sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('body', 'seq', name='uq_raw_text_part'),
    )


def downgrade() -> None:
    op.drop_table('raw_texts')
