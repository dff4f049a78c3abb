"""The gRPC client: PyPI `wechaty-puppet-service`'s PuppetService, made safe for our use.

- `_init_puppet` is replaced: no blocking telnet ping, no public discovery service, optional TLS set up as
  the Node client does it (trust the Wechaty root CA unless told otherwise; the server name is the token's
  prefix before its last "_", e.g. `insecure` for `insecure_abc`, unless told otherwise);
- `event_stream` replaces its event loop, which dies on the 1.x server's `{"gerror": …}` error
  payload: unknown or malformed payloads are logged and skipped."""
from __future__ import annotations

import json
import ssl
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # it imports telnetlib (removed in Python 3.13)
    from grpclib.client import Channel
    from grpclib.config import Configuration
    from wechaty_grpc.wechaty import PuppetStub
    from wechaty_grpc.wechaty.puppet import EventType
    from wechaty_puppet import PuppetOptions
    from wechaty_puppet_service import PuppetService


@dataclass
class GatewayEvent:
    name: str  # message | login | logout | ready | heartbeat | error | room-join | room-leave | room-topic | other
    data: dict[str, Any]


NAMES = {
    EventType.EVENT_TYPE_MESSAGE: "message",
    EventType.EVENT_TYPE_LOGIN: "login",
    EventType.EVENT_TYPE_LOGOUT: "logout",
    EventType.EVENT_TYPE_READY: "ready",
    EventType.EVENT_TYPE_HEARTBEAT: "heartbeat",
    EventType.EVENT_TYPE_ERROR: "error",
    EventType.EVENT_TYPE_ROOM_JOIN: "room-join",
    EventType.EVENT_TYPE_ROOM_LEAVE: "room-leave",
    EventType.EVENT_TYPE_ROOM_TOPIC: "room-topic",
    EventType.EVENT_TYPE_DONG: "dong",
    EventType.EVENT_TYPE_SCAN: "scan",
}


WECHATY_ROOT_CA = Path(__file__).with_name("wechaty-root-ca.pem")  # from wechaty-puppet-service (Node), to 2031


def token_server_name(token: str | None) -> str | None:
    """The SNI the Node client derives from a token: its prefix before the last "_", lower-cased."""
    cut = (token or "").rfind("_")
    return token[:cut].lower() if token and cut > 0 else None


@dataclass
class TlsOptions:
    ca_file: str | None = None  # PEM; None: the Wechaty root CA the stock gateway's certificate chains to
    ca_pem: str | None = None  # PEM text (WECHATY_PUPPET_SERVICE_TLS_CA_CERT, as the Node client reads it)
    server_name: str | None = None  # None: from the token, else the endpoint's host


class GatewayClient(PuppetService):
    def __init__(self, endpoint: str, token: str | None, tls: bool | TlsOptions = False) -> None:
        if not endpoint:
            raise ValueError("a gateway endpoint (host:port) is required; without it the client asks a public service")
        super().__init__(PuppetOptions(end_point=endpoint, token=token or ""), name=f"gateway:{endpoint}")
        self.tls: TlsOptions | None = (tls if isinstance(tls, TlsOptions) else TlsOptions()) if tls else None

    def ssl_context(self) -> tuple[ssl.SSLContext, str | None]:
        assert self.tls is not None
        if self.tls.ca_pem:
            context = ssl.create_default_context(cadata=self.tls.ca_pem)
        else:
            context = ssl.create_default_context(cafile=self.tls.ca_file or str(WECHATY_ROOT_CA))
        context.set_alpn_protocols(["h2"])
        return context, self.tls.server_name or token_server_name(self.options.token)

    def _init_puppet(self) -> None:
        host, _, port = str(self.options.end_point).rpartition(":")
        context: ssl.SSLContext | None = None
        config = None
        if self.tls:
            context, server_name = self.ssl_context()
            config = Configuration(ssl_target_name_override=server_name) if server_name else None
        self.channel = Channel(host=host, port=int(port), ssl=context, config=config)
        metadata = {"authorization": f"Wechaty {self.options.token}"} if self.options.token else None
        if self.options.token and not self.tls:
            self.channel._authority = self.options.token  # the pre-TLS way the 1.x server still reads
        self._puppet_stub = PuppetStub(self.channel, metadata=metadata)

    async def connect(self) -> None:
        self._init_puppet()
        await self.puppet_stub.start()

    async def event_stream(self) -> AsyncIterator[GatewayEvent]:
        async for response in self.puppet_stub.event():
            if response is None:
                continue
            try:
                data = json.loads(response.payload or "{}")
            except ValueError:
                data = {"raw": response.payload}
            yield GatewayEvent(NAMES.get(EventType(response.type), "other") if response.type in
                               {e.value for e in EventType} else "other", data if isinstance(data, dict) else {"raw": data})

    def close(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        self._puppet_stub = None

    async def download(self, message_id: str, limit: int = 20 * 1024 * 1024) -> tuple[str, bytes]:
        """An inbound file through the gateway's file download stream (name first, then the data)."""
        name, data = "", bytearray()
        async for response in self.puppet_stub.message_file_stream(id=message_id):
            chunk = response.file_box_chunk
            if chunk.name:
                name = chunk.name
            if chunk.data:
                data += chunk.data
                if len(data) > limit:
                    raise ValueError(f"file larger than {limit} bytes")
        return name, bytes(data)
