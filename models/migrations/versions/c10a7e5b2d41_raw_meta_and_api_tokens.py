"""raw message meta and original bytes; personal API tokens

Revision ID: c10a7e5b2d41
Revises: c3d1e2f4a5b6
Create Date: 2026-11-23 06:10:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel
import models.types


revision = 'c10a7e5b2d41'
down_revision = 'c3d1e2f4a5b6'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('raw_messages') as batch:
        batch.add_column(sa.Column('meta', sa.JSON(), nullable=False, server_default='{}'))
        batch.add_column(sa.Column('original', sa.LargeBinary(), nullable=True))
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('digest', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('label', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('created_at', models.types.LocalTime(), nullable=False),
    sa.Column('revoked_at', models.types.LocalTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('digest')
    )
    op.create_index(op.f('ix_api_tokens_person_id'), 'api_tokens', ['person_id'], unique=False)
    op.create_index('ix_raw_messages_outcome', 'raw_messages', ['outcome'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_raw_messages_outcome', table_name='raw_messages')
    op.drop_index(op.f('ix_api_tokens_person_id'), table_name='api_tokens')
    op.drop_table('api_tokens')
    with op.batch_alter_table('raw_messages') as batch:
        batch.drop_column('original')
        batch.drop_column('meta')
