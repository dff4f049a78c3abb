"""The gRPC client: PyPI `wechaty-puppet-service`'s PuppetService, made safe for our use.

- `_init_puppet` is replaced: no blocking telnet ping, no public discovery service, optional TLS;
- `event_stream` replaces its event loop, which dies on the 1.x server's `{"gerror": …}` error
  payload: unknown or malformed payloads are logged and skipped."""
from __future__ import annotations

import json
import ssl
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # it imports telnetlib (removed in Python 3.13)
    from grpclib.client import Channel
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


class GatewayClient(PuppetService):
    def __init__(self, endpoint: str, token: str | None, tls: bool = False) -> None:
        if not endpoint:
            raise ValueError("a gateway endpoint (host:port) is required; without it the client asks a public service")
        super().__init__(PuppetOptions(end_point=endpoint, token=token or ""), name=f"gateway:{endpoint}")
        self.tls = tls

    def _init_puppet(self) -> None:
        host, _, port = str(self.options.end_point).rpartition(":")
        context: ssl.SSLContext | None = None
        if self.tls:
            context = ssl.create_default_context()
            context.set_alpn_protocols(["h2"])
        self.channel = Channel(host=host, port=int(port), ssl=context)
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
