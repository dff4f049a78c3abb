"""Request guards every page and API shares: the Host header, and Origin for state-changing requests.

- Host: only names this server answers to (loopback names, the bind address, BOT_ALLOWED_HOSTS), so a
  DNS-rebinding page cannot talk to it under a foreign name.
- Origin (or Referer when Origin is absent) on POST/PUT/PATCH/DELETE: must be this server itself, so a
  cross-site form or fetch (text/plain, multipart) is refused. Requests with neither header are not from
  a browser page (curl, a feed) and pass; the API still needs its Bearer token.

`guard(allowed_hosts)` returns an aiohttp middleware; the console adds its session and CSRF checks after it.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARD = frozenset({"0.0.0.0", "::", ""})


def host_name(value: str) -> str:
    """`Example.org:8080` → `example.org`; `[::1]:80` → `::1`."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def allowed_hosts(bind_host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    names = set(LOOPBACK) | {host_name(h) for h in extra if h.strip()}
    if bind_host not in WILDCARD:
        names.add(host_name(bind_host))
    return frozenset(names)


def _json_error(status: int, text: str) -> web.Response:
    return web.json_response({"error": text}, status=status, dumps=_dumps)


def _dumps(o: Any) -> str:
    import json

    return json.dumps(o, ensure_ascii=False)


def guard(hosts: frozenset[str]) -> Any:
    @web.middleware
    async def check(request: web.Request, handler: Any) -> web.StreamResponse:
        host = host_name(request.headers.get("Host", ""))
        if host not in hosts:
            return _json_error(421, f"不受理的主机名：{host or '（空）'}。如需从其他地址访问，请在 BOT_ALLOWED_HOSTS 中登记。")
        if request.method not in SAFE_METHODS:
            source = request.headers.get("Origin") or request.headers.get("Referer")
            if source is not None and not same_origin(source, request):
                return _json_error(403, "拒绝跨站请求：来源与本站不一致。")
        return await handler(request)

    return check


def same_origin(source: str, request: web.Request) -> bool:
    if source == "null":  # sandboxed frames and file: pages
        return False
    parts = urlsplit(source)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    return parts.netloc.lower() == request.headers.get("Host", "").strip().lower()
