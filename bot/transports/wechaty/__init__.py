"""Real WeChat through the Wechaty Puppet Service gRPC protocol."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot.transports.wechaty.transport import WechatyTransport


def wechaty_factories(env: Mapping[str, str]) -> list[Callable[[Any], Any]]:
    """One transport per gateway: `gateways` in the configuration, or the WECHATY_PUPPET_SERVICE_* variables."""

    def from_config(app: Any) -> list[Any]:
        return [gateway_transport(app, g.account, g.endpoint, g.token or env.get(g.token_env or "", ""), g.tls)
                for g in app.cfg.gateways]

    def from_env(app: Any) -> Any:
        endpoint = env.get("WECHATY_PUPPET_SERVICE_ENDPOINT", "")
        if not endpoint:
            raise SystemExit("WeChat needs WECHATY_PUPPET_SERVICE_ENDPOINT (host:port) or `gateways` in the configuration")
        return gateway_transport(app, "default", endpoint, env.get("WECHATY_PUPPET_SERVICE_TOKEN"),
                                 env.get("WECHATY_PUPPET_SERVICE_TLS", "") in ("1", "true", "yes"))

    return [lambda app: from_config(app) if app.cfg.gateways else from_env(app)]


def gateway_transport(app: Any, account: str, endpoint: str, token: str | None, tls: bool) -> WechatyTransport:
    return WechatyTransport(endpoint, token, app.clock, account=account, tls=tls, bot_name=app.cfg.bot.name,
                            on_state=app.data.get("on_transport_state"))


__all__ = ["WechatyTransport", "wechaty_factories"]
