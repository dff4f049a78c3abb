"""叫应 and 提示函: 预警 → 叫应 → 回应 → 督导 → 总结 → 评估."""
from __future__ import annotations

from typing import Any

from bot.dispatch import Router
from handlers.warnings import ack, commands, letter
from handlers.warnings.ackbatch import AckBatcher, ack_lane, rebuild_index
from handlers.warnings.api import add_routes
from handlers.warnings.escalate import escalate_due, next_due
from handlers.warnings.jobs import issue_pending


def setup(app: Any) -> list[Router]:
    assert app.scheduler is not None
    app.scheduler.timer("escalate_due", escalate_due, next_due)
    app.scheduler.every("issue_pending", issue_pending, seconds=5)
    app.data["web_routes"].append(add_routes)
    app.data["ack_batcher"] = AckBatcher(app)
    app.data["fast_lanes"].append(ack_lane)
    app.data["startup"].append(rebuild_index)
    return [commands.router, letter.router]


def ack_routers() -> list[Router]:
    return [ack.router]
