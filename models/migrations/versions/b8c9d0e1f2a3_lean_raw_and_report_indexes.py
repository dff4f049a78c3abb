"""raw messages and reports: partial indexes for the two raw-message searches, no unused report indexes

Every inbound message went into raw_messages' chat_id and outcome indexes twice (its insert, and the update
of its outcome, which rewrites the row). No query searched by chat_id alone; the console's unbound rooms
searched all group messages from unknown chats, and recovery searched by outcome = 'pending'. Each now
has a partial index of only the rows it looks for (nearly none). inspection_reports' active, status,
region and raw_message_id indexes were never searched by (report_date and unit_id serve the queries), and a
correction rewrote each of them.

Revision ID: b8c9d0e1f2a3
Revises: a7b8c9d0e1f2
Create Date: 2026-11-23 21:00:00
"""
import sqlalchemy as sa
from alembic import op


revision = 'b8c9d0e1f2a3'
down_revision = 'a7b8c9d0e1f2'
branch_labels = None
depends_on = None

_REPORTS = ('active', 'status', 'region', 'raw_message_id')
_UNKNOWN_CHAT = sa.text('is_group AND NOT chat_known')
_PENDING = sa.text("outcome = 'pending'")


def upgrade() -> None:
    op.drop_index('ix_raw_messages_chat_id', table_name='raw_messages', if_exists=True)
    op.drop_index('ix_raw_messages_outcome', table_name='raw_messages', if_exists=True)
    op.create_index('ix_raw_messages_unknown_chat', 'raw_messages', ['transport', 'chat_id'], if_not_exists=True,
                    sqlite_where=_UNKNOWN_CHAT, postgresql_where=_UNKNOWN_CHAT)
    op.create_index('ix_raw_messages_pending', 'raw_messages', ['id'], if_not_exists=True,
                    sqlite_where=_PENDING, postgresql_where=_PENDING)
    for column in _REPORTS:
        op.drop_index(f'ix_inspection_reports_{column}', table_name='inspection_reports', if_exists=True)


def downgrade() -> None:
    for column in _REPORTS:
        op.create_index(f'ix_inspection_reports_{column}', 'inspection_reports', [column])
    op.drop_index('ix_raw_messages_pending', table_name='raw_messages')
    op.drop_index('ix_raw_messages_unknown_chat', table_name='raw_messages')
    op.create_index('ix_raw_messages_outcome', 'raw_messages', ['outcome'])
    op.create_index('ix_raw_messages_chat_id', 'raw_messages', ['chat_id'])
