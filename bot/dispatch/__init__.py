"""Routers, filters, middleware and the one dispatch entry point."""
from bot.dispatch.dispatcher import Dispatcher
from bot.dispatch.router import SKIP, Router

__all__ = ["SKIP", "Dispatcher", "Router"]
