"""outbox: drop the status and next_attempt_at indexes; on PostgreSQL, tell listeners of new rows

Every row written or sent updated the two indexes; ix_outbox_due starts with status and serves every query
they did. Obligations and escalation steps lose their warning_id index, which their unique constraint
already starts with. The sender listens on `outbox_news` instead of asking for new rows on every pass.

Revision ID: d1e2f3a4b5c6
Revises: d2b7c4e1a9f0
Create Date: 2026-11-23 09:20:00
"""
from alembic import op


revision = 'd1e2f3a4b5c6'
down_revision = 'd2b7c4e1a9f0'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.drop_index('ix_outbox_status')
        batch.drop_index('ix_outbox_next_attempt_at')
    with op.batch_alter_table('obligations') as batch:
        batch.drop_index('ix_obligations_warning_id')
    with op.batch_alter_table('escalation_steps') as batch:
        batch.drop_index('ix_escalation_steps_warning_id')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("CREATE FUNCTION outbox_news() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$ BEGIN PERFORM pg_notify('outbox_news', ''); RETURN NULL; END $$")
        op.execute("CREATE TRIGGER outbox_news AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_news()")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER outbox_news ON outbox")
        op.execute("DROP FUNCTION outbox_news()")
    with op.batch_alter_table('escalation_steps') as batch:
        batch.create_index('ix_escalation_steps_warning_id', ['warning_id'])
    with op.batch_alter_table('obligations') as batch:
        batch.create_index('ix_obligations_warning_id', ['warning_id'])
    with op.batch_alter_table('outbox') as batch:
        batch.create_index('ix_outbox_next_attempt_at', ['next_attempt_at'])
        batch.create_index('ix_outbox_status', ['status'])
