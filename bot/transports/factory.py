"""Which transports a run uses: the simulator, WeChat gateways, or both."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot.transports.simulator import SimulatorTransport


def transport_factories(choice: str, env: Mapping[str, str]) -> list[Callable[[Any], Any]]:
    factories: list[Callable[[Any], Any]] = []
    if choice in ("sim", "both"):
        # the demo's chats kept in its var directory: a restarted `make run` still shows them
        factories.append(lambda app: SimulatorTransport(app.directory, app.clock,
                                                        keep=app.settings.var_dir / "sim_chats.jsonl"))
    if choice in ("wechaty", "both"):
        from bot.transports.wechaty import wechaty_factories

        factories.extend(wechaty_factories(env))
    return factories
