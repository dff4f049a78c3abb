"""Import every table so that the metadata (and Alembic) sees them all."""
from models.core import AuditLog, Binding, KeyValue, OutboxEntry, RawMessage

__all__ = ["AuditLog", "Binding", "KeyValue", "OutboxEntry", "RawMessage"]
