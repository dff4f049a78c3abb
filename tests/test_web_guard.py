"""The web refuses what a hostile page or client sends: cross-site posts, foreign Host names,
bad tokens and bodies, odd paths. Every refusal is a 4xx with a Chinese message, never a 500."""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import select

from bot.app import App
from bot.tokens import create, revoke
from bot.web.app import create_web
from models.core import AuditLog, RawMessage
from tests.harness import Harness

BODY = {"level": "橙色", "type": "森林火险预警", "regions": ["延边州"], "content": "高火险", "dry_run": True}


@pytest.fixture
async def client(h: Harness) -> AsyncIterator[TestClient]:
    c = TestClient(TestServer(create_web(h.app, sim=True)))
    await c.start_server()
    try:
        yield c
    finally:
        await c.close()


def origin(c: TestClient) -> str:
    return f"http://{c.host}:{c.port}"


async def test_the_simulator_is_off_unless_asked_for(app: App) -> None:
    app.settings.sim_web = False  # the default outside `make run`
    c = TestClient(TestServer(create_web(app)))
    await c.start_server()
    try:
        assert (await c.get("/sim")).status == 404
        assert (await c.post("/sim/api/send", json={"chat_id": "anwei", "sender_id": "liwd", "text": "x"})).status == 404
        assert (await c.get("/healthz")).status == 200
    finally:
        await c.close()


async def test_forged_cross_site_posts_are_refused(client: TestClient, h: Harness) -> None:
    evil = {"Origin": "http://evil.example", "Content-Type": "text/plain"}
    text = '{"chat_id": "chuzhang", "sender_id": "liwd", "text": "@应急助手 确认"}'
    r = await client.post("/sim/api/send", data=text, headers=evil)
    assert r.status == 403 and "跨站" in (await r.json())["error"]
    r = await client.post("/sim/api/send", data={"chat_id": "chuzhang", "sender_id": "liwd", "text": "x"},
                          headers={"Referer": "http://evil.example/page"})
    assert r.status == 403
    r = await client.post("/sim/api/send", data=text, headers={"Origin": "null"})
    assert r.status == 403
    async with h.app.sessions() as s:
        assert not (await s.exec(select(RawMessage))).all()  # nothing reached the bot


async def test_same_origin_and_plain_clients_pass(client: TestClient) -> None:
    r = await client.get("/sim/api/state")
    assert r.status == 200
    r = await client.post("/api/warnings", json=BODY, headers={"Origin": origin(client),
                                                               "Authorization": "Bearer test-token"})
    assert r.status == 200


async def test_dns_rebinding_host_is_refused(client: TestClient) -> None:
    for path in ("/sim/api/state", "/healthz"):
        r = await client.get(path, headers={"Host": f"attacker.example:{client.port}"})
        assert r.status == 421 and "BOT_ALLOWED_HOSTS" in (await r.json())["error"]
    r = await client.get("/healthz", headers={"Host": f"localhost:{client.port}"})
    assert r.status == 200


async def post(client: TestClient, body: Any, token: str | None = "test-token", raw: bool = False) -> Any:
    headers = {"Authorization": token} if raw else ({"Authorization": f"Bearer {token}"} if token else {})
    r = await client.post("/api/warnings", json=body, headers=headers) if not isinstance(body, bytes) else \
        await client.post("/api/warnings", data=body, headers={**headers, "Content-Type": "application/json"})
    return r.status, await r.json()


async def test_api_needs_bearer_and_checks_every_field(client: TestClient) -> None:
    assert (await post(client, BODY, "test-token", raw=True))[0] == 401  # no `Bearer ` prefix
    assert (await post(client, BODY, "Bearer 令牌", raw=True))[0] == 401  # non-ASCII token
    assert (await post(client, BODY, "wrong"))[0] == 401
    for body in ([], "x", 5, None):
        status, data = await post(client, body)
        assert status == 400 and "JSON" in data["error"]
    assert (await post(client, b"{not json"))[0] == 400
    for minutes in ("abc", -5, 0, 1e400, 99999, True, [5]):
        status, data = await post(client, {**BODY, "deadline_min": minutes})
        assert status == 400 and "deadline_min" in data["error"], minutes
    assert (await post(client, b'{"level": "\\u6a59\\u8272", "regions": ["\\u5ef6\\u8fb9\\u5dde"], "deadline_min": 1e400}'))[0] == 400
    status, data = await post(client, {**BODY, "regions": [{"a": 1}]})
    assert status == 400
    status, data = await post(client, {**BODY, "deadline_min": "30"})
    assert status == 200


async def test_issued_by_is_the_token_owner(client: TestClient, h: Harness) -> None:
    status, data = await post(client, {**BODY, "issued_by": "shenlx"})
    assert status == 400 and "令牌" in data["error"]
    token_id, token = await create(h.app.sessions, "liwd", "气象台", h.clock.now())
    status, data = await post(client, {**BODY, "dry_run": False}, token)
    assert status == 202 and data["issued_by"] == "李卫东"
    await revoke(h.app.sessions, token_id, h.clock.now())
    assert (await post(client, BODY, token))[0] == 401
    _, reporter = await create(h.app.sessions, "jl-bs", "", h.clock.now())  # not a duty officer
    status, data = await post(client, BODY, reporter)
    assert status == 403 and "不是值班员" in data["error"]
    async with h.app.sessions() as s:
        actions = [(a.actor, a.action) for a in (await s.exec(select(AuditLog))).all()]
    assert ("liwd", "warning_request") in actions and ("jl-bs", "denied:warning_issue") in actions


async def test_odd_paths_get_4xx_not_500(client: TestClient) -> None:
    for path, status in (("/files/%00", 404), ("/files/..%2F..%2Fetc%2Fpasswd", 404), ("/warnings/abc/records.xlsx", 400),
                         ("/warnings/99999999999999999999/records.xlsx", 400), ("/warnings/123/records.xlsx", 404),
                         ("/reports/daily/9999-99-99.xlsx", 400)):
        r = await client.get(path)
        assert r.status == status, (path, r.status)
