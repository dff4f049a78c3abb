"""The CLI's work, kept apart from argument parsing."""
from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.config import Config, ConfigError, load_config
from bot.settings import ROOT, Settings


def check_config(path: Path, database_url: str | None = None) -> int:
    """The YAML, then the routing edits stored in the database over it (the one store both make up)."""
    try:
        cfg, tree = load_config(path)
    except ConfigError as e:
        for line in e.errors:
            print(line)
        print(f"共 {len(e.errors)} 处错误", file=sys.stderr)
        return 1
    print(f"{path}: 配置有效：{len(tree.by_key)} 个地区，{len(cfg.units)} 个单位，{len(cfg.people)} 人，{len(cfg.groups)} 个群")
    errors = 0
    if database_url and database_url.startswith("sqlite") and not Path(database_url.split(":///", 1)[-1]).exists():
        print("数据库：尚未创建，只检查了配置文件。")
    elif database_url:
        import asyncio

        from bot.directory import Directory

        directory = Directory(cfg, tree)
        lines, errors = asyncio.run(database_overrides(database_url, directory))
        for line in lines:
            print(line)
    for warning in unbound_warnings(cfg):
        print(warning)
    return 1 if errors else 0


async def database_overrides(url: str, directory: Any) -> tuple[list[str], int]:
    """Apply the database's routing edits onto the directory and say what they change and what is broken."""
    from sqlalchemy.exc import SQLAlchemyError
    from sqlmodel import select

    from bot import routing
    from bot.web.console.routing_view import LABELS, entity_title
    from models.console import RoutingOverride
    from models.db import make_engine

    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(RoutingOverride))).all()
    except (SQLAlchemyError, OSError) as e:
        return [f"数据库：无法读取路由修改（{type(e).__name__}），只检查了配置文件。"], 0
    finally:
        await engine.dispose()
    lines, errors = [f"数据库：{len(rows)} 项路由修改覆盖配置文件"], 0
    for row in rows:
        if not directory.has(row.kind, row.config_id):
            lines.append(f"错误: 数据库修改了配置中已不存在的{'群' if row.kind == 'group' else '人员'} {row.config_id}")
            errors += 1
            continue
        before = routing.state_of(directory, row.kind, row.config_id)
        routing.apply_state(directory, row.kind, row.config_id, row.fields)
        edit = routing.Edit(row.kind, row.config_id, before, routing.state_of(directory, row.kind, row.config_id))
        problem = routing.validate(directory, edit)
        fields = "、".join(LABELS[f] for f in row.fields if f in LABELS)
        lines.append(f"{'错误' if problem else '覆盖'}: {entity_title(directory, row.kind, row.config_id)}（{fields}）"
                     + (f"：{problem}" if problem else ""))
        errors += bool(problem)
    return lines, errors


def unbound_warnings(cfg: Config) -> list[str]:
    out = []
    for g in cfg.groups:
        if "wechaty" not in g.ids:
            out.append(f"提示: 群 {g.name} 尚未绑定微信群（在群里由管理员发“@{cfg.bot.name} 绑定本群 …”）")
    unbound = [p.name for p in cfg.people if "wechaty" not in p.ids]
    if unbound:
        out.append(f"提示: {len(unbound)} 人尚未绑定微信号：{'、'.join(unbound[:10])}{'…' if len(unbound) > 10 else ''}")
    return out + reach_warnings(cfg)


def reach_warnings(cfg: Config) -> list[str]:
    """With `gateways`, people whose private account has no gateway: they are reached through an account
    that has them as a contact (known once it logs in), else through the first one; name them."""
    accounts = {g.account for g in cfg.gateways}
    if not accounts:
        return []
    stray = [p for p in cfg.people if p.account not in accounts and p.ids.get("wechaty")]
    if not stray:
        return []
    names = "、".join(p.name for p in stray[:10]) + ("…" if len(stray) > 10 else "")
    return [f"提示: {len(stray)} 人的私信账号不在 gateways 中（{names}）：将由有其为好友的账号私信，"
            f"没有则由 {sorted(accounts)[0]} 发送；运行后 /healthz 的 unreachable 列出无账号可达的人"]


async def bind_person(settings: Settings, person_id: str, transport: str, tid: str) -> int:
    """`python -m bot bind PERSON_ID --wechaty ID`: the first admin's id from the server, audited."""
    from bot import routing
    from bot.app import create_app
    from models.db import transaction

    app = create_app(settings)
    try:
        await app.prepare()
        person = app.directory.people.get(person_id)
        if person is None:
            close = [p.id for p in app.directory.people.values() if person_id in (p.id, p.name)]
            print(f"配置中没有编号为 {person_id} 的人员{'（编号为 ' + '、'.join(close) + '）' if close else ''}。",
                  file=sys.stderr)
            return 1
        edits = routing.plan(app.directory, "person", person.id, {"ids": {**person.ids, transport: tid}})
        if edits:
            async with transaction(app.sessions) as session:
                await routing.commit(session, app.directory, edits, "命令行", app.clock.now(),
                                     f"在服务器上绑定{app.directory.display(person)}的{transport}号")
        print(f"已绑定：{app.directory.display(person)} = {transport} {tid}（运行中的机器人重启后生效）")
        return 0
    finally:
        await app.stop()


def parse_command(at: str, file: str, config: Path | None) -> int:
    from handlers.reports.parse import Parser

    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        print(f"--at 时间格式错误：{at}（应为 2026-03-16T14:20:00+08:00）", file=sys.stderr)
        return 2
    try:
        text = sys.stdin.buffer.read().decode("utf-8") if file == "-" else Path(file).read_text(encoding="utf-8")
    except FileNotFoundError:
        print(f"文件不存在：{file}", file=sys.stderr)
        return 2
    except IsADirectoryError:
        print(f"{file} 是目录，请给出消息文本文件", file=sys.stderr)
        return 2
    except UnicodeDecodeError as e:
        print(f"{file} 不是 UTF-8 文本（第 {e.start + 1} 字节起无法解码），请另存为 UTF-8 后重试", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"无法读取 {file}：{e.strerror}", file=sys.stderr)
        return 2
    cfg_path = config or ROOT / "config" / "demo.yaml"
    cfg, tree = load_config(cfg_path)
    parser = Parser(tree, cfg)
    result = parser.parse(text, when)
    print(json.dumps(result.to_json(), ensure_ascii=False))
    return 0


def parse_lines(file: str, config: Path | None) -> int:
    """Many messages in one run: one `{"at", "text"}` object a line in, one parse a line out."""
    from handlers.reports.parse import Parser

    cfg, tree = load_config(config or ROOT / "config" / "demo.yaml")
    parser = Parser(tree, cfg)
    text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            when = datetime.fromisoformat(item["at"])
        except (ValueError, KeyError, TypeError):
            print(f"第{n}行格式错误（应为 {{\"at\": \"2026-03-16T14:20:00+08:00\", \"text\": \"…\"}}）", file=sys.stderr)
            return 2
        print(json.dumps(parser.parse(item["text"], when).to_json(), ensure_ascii=False))
    return 0


async def migrate_only(settings: Settings) -> int:
    from models.db import make_engine, migrate

    engine = make_engine(settings.database_url)
    await migrate(engine)
    await engine.dispose()
    print("数据库已迁移到最新版本")
    return 0


async def login_link(settings: Settings, person_id: str) -> int:
    """Print a one-time console link and code for one person (the first admin has no chat yet)."""
    from bot.app import create_app
    from bot.login import issue_login, may_log_in
    from handlers.admin.login import login_text
    from models.db import transaction

    app = create_app(settings)
    try:
        await app.prepare()  # migrations and the routing edits stored in the database
        person = app.directory.people.get(person_id)
        if person is None:
            print(f"配置中没有编号为 {person_id} 的人员。", file=sys.stderr)
            return 1
        if not may_log_in(person):
            print(f"{person.name} 不是管理员、值班员或处长，不能登录控制台。", file=sys.stderr)
            return 1
        async with transaction(app.sessions) as session:
            issued = await issue_login(session, person, app.clock.now())
        print(f"{app.directory.display(person)}\n" + login_text(settings.base_url(), issued.token, issued.code))
        return 0
    finally:
        await app.stop()
