"""Bootstrapping from the server: `bind` an id, `check-config` names who no gateway account reaches."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bot.app import create_app
from bot.cli import main
from bot.settings import ROOT, Settings


async def test_bind_from_the_server_is_stored_and_audited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("BOT_CONFIG", str(ROOT / "config" / "demo.yaml"))
    assert await _run(["bind", "shenlx", "--wechaty", "wxid_first_admin"]) == 0
    assert "已绑定" in capsys.readouterr().out
    assert await _run(["bind", "nobody", "--wechaty", "x"]) == 1
    app = create_app(Settings(database_url="sqlite+aiosqlite:///" + str(tmp_path / "bot.db"),
                              var_dir=tmp_path / "var", scheduler=False))
    await app.prepare()
    try:
        assert app.directory.person("wechaty", "wxid_first_admin").id == "shenlx"
    finally:
        await app.stop()


async def _run(argv: list[str]) -> int:
    import asyncio

    return await asyncio.to_thread(main, argv)  # main runs its own event loop


def test_check_config_names_people_no_gateway_account_reaches(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text(encoding="utf-8"))
    cfg["gateways"] = [{"account": "a1", "endpoint": "127.0.0.1:1", "groups": ["anwei"]},
                       {"account": "a2", "endpoint": "127.0.0.1:2", "groups": ["g-jl"]}]
    cfg["people"][0]["ids"]["wechaty"] = "wx-someone"
    for name in ("regions.yaml", "templates.yaml"):
        shutil.copy(ROOT / "config" / name, tmp_path / name)
    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    assert main(["check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "私信账号不在 gateways 中" in out and cfg["people"][0]["name"] in out
