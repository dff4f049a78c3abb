"""aiohttp application: built by a factory around the bot App."""
from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.directory import GROUP_ROLE_NAMES, ROLE_NAMES
from bot.events import Attachment
from bot.web.guard import allowed_hosts, guard

APP = web.AppKey("bot_app", object)
STATIC = Path(__file__).resolve().parent / "static"
Route = Callable[[web.Application], None]
MAX_SIM_TEXT = 2_000_000


def create_web(bot: Any, extra_routes: list[Route] | None = None, *, sim: bool | None = None) -> web.Application:
    """`sim`: serve the chat simulator page (a development tool; `make run` turns it on, else BOT_SIM=1)."""
    settings = bot.settings
    web_app = web.Application(client_max_size=20 * 1024 * 1024)
    web_app[APP] = bot
    web_app.middlewares.append(guard(allowed_hosts(settings.host, settings.allowed_hosts)))
    if settings.sim_web if sim is None else sim:
        web_app.router.add_get("/", index)
        web_app.router.add_get("/sim", sim_page)
        web_app.router.add_get("/sim/api/state", sim_state)
        web_app.router.add_get("/sim/api/history", sim_history)
        web_app.router.add_post("/sim/api/send", sim_send)
        web_app.router.add_get("/sim/events", sim_events)
        web_app.middlewares.append(no_simulator)
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/files/{name}", download)
    for add in extra_routes or bot.data.get("web_routes", []):
        add(web_app)
    from bot.web.console import setup_console  # the console imports APP from here

    setup_console(bot, web_app)
    return web_app


@web.middleware
async def no_simulator(request: web.Request, handler: Any) -> web.StreamResponse:
    """Running on WeChat only: the simulator's endpoints say so instead of failing."""
    try:
        return await handler(request)
    except LookupError:
        raise web.HTTPConflict(text="模拟器未启用（BOT_TRANSPORT=wechaty）。查看 /healthz 了解微信连接状态。") from None


async def index(request: web.Request) -> web.Response:
    raise web.HTTPFound("/sim")


async def sim_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "sim.html", headers={"Content-Type": "text/html; charset=utf-8"})


async def sim_state(request: web.Request) -> web.Response:
    bot = request.app[APP]
    d = bot.directory

    def person(p: Any) -> dict[str, Any]:
        unit = d.unit_of(p)
        return {"id": p.ids.get("sim", p.id), "name": p.name, "unit": unit.name if unit else "",
                "roles": [ROLE_NAMES.get(r, "其他") for r in p.roles]}

    bot.sim  # noqa: B018  (raises LookupError when the simulator is off)
    groups = [
        {"id": g.ids.get("sim", g.id), "name": g.name, "role": GROUP_ROLE_NAMES.get(g.role, "其他群"), "region": g.region,
         "members": [person(p) for p in d.members(g)]}
        for g in d.cfg.groups
    ]
    return web.json_response(
        {"bot": d.cfg.bot.name, "groups": groups, "people": [person(p) for p in d.people.values()],
         "transports": [t.status() for t in bot.transports.values()]},
        dumps=lambda o: json.dumps(o, ensure_ascii=False),
    )


async def sim_history(request: web.Request) -> web.Response:
    bot = request.app[APP]
    return web.json_response(bot.sim.history(request.query.get("chat", "")),
                             dumps=lambda o: json.dumps(o, ensure_ascii=False))


async def sim_send(request: web.Request) -> web.Response:
    bot = request.app[APP]
    attachments: tuple[Attachment, ...] = ()
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        chat_id, sender_id, text = str(form.get("chat_id", "")), str(form.get("sender_id", "")), str(form.get("text", ""))
        upload = form.get("file")
        if isinstance(upload, web.FileField) and upload.filename:
            attachments = (await _save_upload(bot.settings.var_dir, upload),)
    else:
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="请求体应为 JSON 或表单") from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="请求体应为 JSON 对象")
        chat_id, sender_id, text = (str(body.get(k) or "") for k in ("chat_id", "sender_id", "text"))
    if not chat_id or not sender_id:
        raise web.HTTPBadRequest(text="chat_id 和 sender_id 必填")
    if len(text) > MAX_SIM_TEXT:  # below this the bot itself stores the message and says it is too long
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_SIM_TEXT, actual_size=len(text))
    try:
        event = await bot.sim.post(chat_id, sender_id, text, attachments=attachments)
    except LookupError:
        raise
    except Exception:  # not stored (the database is down): not acknowledged either
        raise web.HTTPServiceUnavailable(text="消息暂时无法保存，未被受理，请稍后重发。") from None
    return web.json_response({"message_id": event.message_id})


async def _save_upload(var_dir: Path, upload: web.FileField) -> Attachment:
    folder = var_dir / "uploads"
    safe = re.sub(r"[^\w.\-\u4e00-\u9fff]", "_", upload.filename)[-100:]
    path = folder / f"{uuid.uuid4().hex[:8]}_{safe}"
    data = upload.file.read()
    await asyncio.to_thread(_write, path, data)
    return Attachment(upload.filename, str(path), upload.content_type)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


async def sim_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: every line the simulator records, as it happens."""
    bot = request.app[APP]
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await resp.prepare(request)
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
    unlisten = bot.sim.listen(lambda line: queue.put_nowait(line) if not queue.full() else None)
    try:
        await resp.write(b": hello\n\n")
        while True:
            try:
                line = await asyncio.wait_for(queue.get(), 15)
                await resp.write(f"data: {json.dumps(line, ensure_ascii=False)}\n\n".encode())
            except TimeoutError:
                await resp.write(b": ping\n\n")
    except ConnectionResetError:
        pass
    finally:
        unlisten()
    return resp


async def healthz(request: web.Request) -> web.Response:
    from bot.health import health

    body = await health(request.app[APP])
    return web.json_response(body, status=200 if body["ok"] else 503,
                             dumps=lambda o: json.dumps(o, ensure_ascii=False, default=str))


async def download(request: web.Request) -> web.FileResponse:
    bot = request.app[APP]
    name = request.match_info["name"]
    if "\x00" in name or "/" in name or name in (".", ".."):
        raise web.HTTPNotFound(text="文件不存在")
    path = (bot.settings.var_dir / "files" / name).resolve()
    if path.parent != (bot.settings.var_dir / "files").resolve() or not path.is_file():
        raise web.HTTPNotFound(text="文件不存在")
    return web.FileResponse(path, headers={"Content-Disposition": f"attachment; filename*=UTF-8''{_quote(name)}"})


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name)

