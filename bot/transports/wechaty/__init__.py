"""Real WeChat through the Wechaty Puppet Service gRPC protocol."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot.transports.wechaty.client import TlsOptions
from bot.transports.wechaty.transport import WechatyTransport


def wechaty_factories(env: Mapping[str, str]) -> list[Callable[[Any], Any]]:
    """One transport per gateway: `gateways` in the configuration, or the WECHATY_PUPPET_SERVICE_* variables."""

    def from_config(app: Any) -> list[Any]:
        return [gateway_transport(app, g.account, g.endpoint, g.token or env.get(g.token_env or "", ""),
                                  TlsOptions(_path(app, g.ca_file), None, g.server_name) if g.tls else False)
                for g in app.cfg.gateways]

    def from_env(app: Any) -> Any:
        endpoint = env.get("WECHATY_PUPPET_SERVICE_ENDPOINT", "")
        if not endpoint:
            raise SystemExit("WeChat needs WECHATY_PUPPET_SERVICE_ENDPOINT (host:port) or `gateways` in the configuration")
        tls = env.get("WECHATY_PUPPET_SERVICE_TLS", "") in ("1", "true", "yes")
        # the Node client's variables: the CA as PEM text, the server name (SNI)
        options = TlsOptions(None, env.get("WECHATY_PUPPET_SERVICE_TLS_CA_CERT", "").replace("\\n", "\n") or None,
                             env.get("WECHATY_PUPPET_SERVICE_TLS_SERVER_NAME") or None)
        return gateway_transport(app, "default", endpoint, env.get("WECHATY_PUPPET_SERVICE_TOKEN"), options if tls else False)

    return [lambda app: from_config(app) if app.cfg.gateways else from_env(app)]


def gateway_transport(app: Any, account: str, endpoint: str, token: str | None,
                      tls: bool | TlsOptions) -> WechatyTransport:
    return WechatyTransport(endpoint, token, app.clock, account=account, tls=tls, bot_name=app.cfg.bot.name,
                            on_state=app.data.get("on_transport_state"), uploads=app.settings.var_dir / "uploads",
                            is_bound=lambda chat_id: app.directory.group("wechaty", chat_id) is not None)


def _path(app: Any, name: str | None) -> str | None:
    """A CA file named in the configuration is relative to the configuration's folder."""
    return str(app.settings.config_path.parent / name) if name else None


__all__ = ["TlsOptions", "WechatyTransport", "wechaty_factories"]
