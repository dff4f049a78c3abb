"""The Node test gateway as a fixture: the demo world (people and rooms) scripted into a mock puppet."""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bot.settings import ROOT
from tests.services import free_port

SERVER_DIR = ROOT / "tests" / "wechaty_server"
UNBOUND = "g-sp"  # a room the configuration does not know yet: the admin binds it from the chat


def wechat_config(tmp: Path) -> tuple[Path, Path]:
    """The demo configuration with WeChat ids for everyone and every room but one; and the world file."""
    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text(encoding="utf-8"))
    cfg["bot"]["ids"]["wechaty"] = "wx-bot"
    for p in cfg["people"]:
        p["ids"]["wechaty"] = f"wx-{p['id']}"
    for g in cfg["groups"]:
        if g["id"] != UNBOUND:
            g["ids"]["wechaty"] = f"{g['id']}@chatroom"
    for name in ("regions.yaml", "templates.yaml", "prompt_letter.docx"):
        shutil.copy(ROOT / "config" / name, tmp / name)
    path = tmp / "wechat.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    world = {"bot": {"id": "wx-bot", "name": cfg["bot"]["name"]},
             "contacts": [{"id": f"wx-{p['id']}", "name": p["name"]} for p in cfg["people"]]
             + [{"id": "wx-stranger", "name": "陌生人"}],  # someone the configuration does not know
             "rooms": [{"id": f"{g['id']}@chatroom", "topic": g["name"], "members": [f"wx-{p['id']}" for p in cfg["people"]]}
                       for g in cfg["groups"]]}
    world_path = tmp / "world.json"
    world_path.write_text(json.dumps(world, ensure_ascii=False), encoding="utf-8")
    return path, world_path


class Gateway:
    """Starts, kills and restarts `node server.js`; talks to its control API."""

    def __init__(self, world: Path, log: Path, *, tls: bool = False, token: str = "test-token") -> None:
        self.world = world
        self.log = log
        self.tls = tls
        self.token = token
        self.grpc_port = free_port()
        self.control_port = free_port()
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    async def start(self) -> None:
        env = {**os.environ, "WORLD_FILE": str(self.world), "GRPC_PORT": str(self.grpc_port),
               "CONTROL_PORT": str(self.control_port), "TOKEN": self.token, "TLS": "1" if self.tls else "0"}
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec("node", "server.js", cwd=SERVER_DIR, env=env,
                                                             stdout=out, stderr=out)
        await wait_for(self._healthy, 30, "the Node gateway did not start")

    async def _healthy(self) -> bool:
        with contextlib.suppress(aiohttp.ClientError, OSError):
            return bool(await self.get("/health"))
        return False

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        self.proc = None

    async def get(self, path: str) -> Any:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{self.control_port}{path}") as r:
            return await r.json()

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        async with aiohttp.ClientSession() as http, http.post(f"http://127.0.0.1:{self.control_port}{path}", json=body) as r:
            return await r.json()

    async def say(self, person: str, text: str, room: str | None = None, mentions: list[str] = ()) -> None:
        await self.post("/say", {"from": f"wx-{person}", "text": text, "room": f"{room}@chatroom" if room else None,
                                 "mentions": list(mentions)})

    async def sent(self) -> list[dict[str, Any]]:
        return await self.get("/sent")

    async def expect(self, contains: str, room: str | None = None, within_s: float = 20) -> dict[str, Any]:
        conversation = f"{room}@chatroom" if room else None
        found: dict[str, Any] = {}

        async def check() -> bool:
            for m in await self.sent():
                if contains in m["text"] and (conversation is None or m["conversationId"] == conversation):
                    found.update(m)
                    return True
            return False

        await wait_for(check, within_s, f"the gateway never received {contains!r}")
        return found


def edit_world(world: Path, out: Path, *, nickname: str | None = None, contacts: set[str] | None = None) -> Path:
    """A variant of the world: the account's own nickname, or only some contacts."""
    data = json.loads(world.read_text(encoding="utf-8"))
    if nickname:
        data["bot"]["nickname"] = nickname
    if contacts is not None:
        data["contacts"] = [c for c in data["contacts"] if c["id"] in contacts]
        for room in data["rooms"]:
            room["members"] = [m for m in room["members"] if m in contacts]
    out.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return out


async def wait_for(check: Any, within_s: float, message: str) -> None:
    """Poll a real external process until a condition holds (not a sleep: it returns as soon as it does)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while loop.time() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(message)


def node_available() -> bool:
    return shutil.which("node") is not None and (SERVER_DIR / "node_modules").is_dir()

