"""ack indexes: (person, state) on obligations and (obligation, status) on steps

Without statistics (right after a fan-out inserted 20,000 rows) the planners ANDed the person index with the
state index, reading every open obligation, and cancelled a person's steps through the status index,
reading every pending step: per ack batch. Each composite index replaces its single-column prefix.

Revision ID: e5f1a2b3c4d6
Revises: d1e2f3a4b5c6
Create Date: 2026-11-23 09:45:00
"""
from alembic import op


revision = 'e5f1a2b3c4d6'
down_revision = 'd1e2f3a4b5c6'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_obligations_person_id', table_name='obligations')
    op.create_index('ix_obligations_person_state', 'obligations', ['person_id', 'state'])
    op.drop_index('ix_escalation_steps_obligation_id', table_name='escalation_steps')
    op.create_index('ix_escalation_steps_obligation_status', 'escalation_steps', ['obligation_id', 'status'])


def downgrade() -> None:
    op.drop_index('ix_escalation_steps_obligation_status', table_name='escalation_steps')
    op.create_index('ix_escalation_steps_obligation_id', 'escalation_steps', ['obligation_id'])
    op.drop_index('ix_obligations_person_state', table_name='obligations')
    op.create_index('ix_obligations_person_id', 'obligations', ['person_id'])
