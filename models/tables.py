"""Import every table so that the metadata (and Alembic) sees them all."""
from models.console import ConsoleSession, LoginCode, RoutingOverride
from models.core import AuditLog, Binding, KeyValue, OutboxEntry, RawMessage, RawText
from models.daily import Commentary, EmergencyMode
from models.reports import Hazard, HazardEvent, InspectionRecord, InspectionReport
from models.warnings import CallRecord, EscalationStep, Obligation, Warning

__all__ = [
    "AuditLog",
    "Binding",
    "CallRecord",
    "Commentary",
    "ConsoleSession",
    "EmergencyMode",
    "EscalationStep",
    "Hazard",
    "HazardEvent",
    "InspectionRecord",
    "InspectionReport",
    "KeyValue",
    "LoginCode",
    "Obligation",
    "OutboxEntry",
    "RawMessage",
    "RawText",
    "RoutingOverride",
    "Warning",
]
