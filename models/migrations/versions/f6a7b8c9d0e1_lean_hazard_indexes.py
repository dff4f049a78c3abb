"""hazards: one (status, domain, deadline) index instead of five single-column ones

Every stored hazard went into nine indexes. record_id and unit_id were never searched by; status, domain and
deadline are searched together (open hazards of a division, the overdue ones by deadline), which the
composite serves. report_id, region and found_on stay.

Revision ID: f6a7b8c9d0e1
Revises: e5f1a2b3c4d6
Create Date: 2026-11-23 18:30:00
"""
from alembic import op


revision = 'f6a7b8c9d0e1'
down_revision = 'e5f1a2b3c4d6'
branch_labels = None
depends_on = None

_DROPPED = ('record_id', 'unit_id', 'domain', 'status', 'deadline')


def upgrade() -> None:
    # (if exists: SQLite migrations were not one transaction before a7b8c9d0e1f2, and a failed run kept these)
    for column in _DROPPED:
        op.drop_index(f'ix_hazards_{column}', table_name='hazards', if_exists=True)
    op.create_index('ix_hazards_status_domain_deadline', 'hazards', ['status', 'domain', 'deadline'],
                    if_not_exists=True)


def downgrade() -> None:
    op.drop_index('ix_hazards_status_domain_deadline', table_name='hazards')
    for column in _DROPPED:
        op.create_index(f'ix_hazards_{column}', 'hazards', [column])
