"""Hazards to 销号: close with evidence, list open ones, and keep every state change."""
from __future__ import annotations

from typing import Any

from bot.dispatch import Router
from handlers.hazards.commands import router


def setup(app: Any) -> list[Router]:
    return [router]
