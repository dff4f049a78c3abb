"""/healthz: each transport's state, rooms (topic, bound or not), each account's backlog, unreachable people.

Not ok (503) when a transport is logged out, or has been down longer than `health.max_down_s`."""
from __future__ import annotations

from typing import Any

from bot.backlog import backlog
from bot.delivery import unreachable_people


def transport_ok(status: dict[str, Any], max_down_s: float) -> bool:
    state = status.get("state")
    if state == "logged_out":
        return False
    return state in ("running", "logged_in") or status.get("down_s", 0) <= max_down_s


async def health(app: Any) -> dict[str, Any]:
    states = [t.status() for t in app.transports.values()]
    ok = all(transport_ok(s, app.cfg.health.max_down_s) for s in states)
    async with app.sessions() as session:
        accounts = await backlog(session, app.cfg.outbox)
    body = {
        "ok": ok,
        "transports": states,
        "backlog": [{"transport": b.transport, "account": b.account, "waiting": b.waiting, "failed": b.failed,
                     "drain": b.drain_text} for b in accounts],
        "unreachable": [p.name for p in unreachable_people(app)],
    }
    if getattr(app, "redis_state", None) is not None:  # degraded still serves (in-process fallbacks): not a failure
        body["redis"] = app.redis_state.status()
    return body
