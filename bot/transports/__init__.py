"""Transports turn payloads into InboundMessage events and send OutboundMessages. Nothing else."""
from bot.transports.base import Transport

__all__ = ["Transport"]
