"""report rows: no foreign keys from records, hazards and hazard events to their parents

A report, its records, hazards and first events are written together, in one transaction, by one path
(`handlers.reports.ingest.store_reports`), with ids reserved before the rows are built; nothing deletes them.
The keys checked what that path guarantees, a lookup and a row lock on the parent per stored row: a third of
PostgreSQL's time in a burst of reports. The indexes on the parent columns stay (every read joins by them).

Revision ID: a7b8c9d0e1f2
Revises: f6a7b8c9d0e1
Create Date: 2026-11-23 18:40:00
"""
from alembic import op


revision = 'a7b8c9d0e1f2'
down_revision = 'f6a7b8c9d0e1'
branch_labels = None
depends_on = None

# (table, column, parent table)
_KEYS = (('inspection_records', 'report_id', 'inspection_reports'), ('hazards', 'report_id', 'inspection_reports'),
         ('hazards', 'record_id', 'inspection_records'), ('hazard_events', 'hazard_id', 'hazards'))
_NAMING = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


def _name(table: str, column: str, parent: str) -> str:
    """PostgreSQL's own name for the key; SQLite's keys have none (batch mode names them by _NAMING)."""
    return f'{table}_{column}_fkey' if op.get_bind().dialect.name == 'postgresql' else f'fk_{table}_{column}_{parent}'


def upgrade() -> None:
    for table in dict.fromkeys(t for t, _, _ in _KEYS):
        with op.batch_alter_table(table, naming_convention=_NAMING) as batch:
            for t, column, parent in _KEYS:
                if t == table:
                    batch.drop_constraint(_name(t, column, parent), type_='foreignkey')


def downgrade() -> None:
    for table, column, parent in _KEYS:
        with op.batch_alter_table(table, naming_convention=_NAMING) as batch:
            batch.create_foreign_key(_name(table, column, parent), parent, [column], ['id'])
