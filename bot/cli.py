"""`python -m bot run | check-config [PATH] | parse --at T --json FILE | migrate | login-link PERSON_ID |
bind PERSON_ID --wechaty ID`."""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import signal
import sys
from pathlib import Path

from bot.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="一键直达应急指挥机器人")
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="启动机器人（默认：模拟器 + SQLite + 网页 127.0.0.1:8080）")
    run.add_argument("--config", type=Path)
    run.add_argument("--host")
    run.add_argument("--port", type=int)
    run.add_argument("--transport", choices=["sim", "wechaty", "both"], default=os.environ.get("BOT_TRANSPORT", "sim"))
    run.add_argument("--demo", action="store_true", help="演示模式：开启 /sim 模拟器页面（仅监听 127.0.0.1）")
    check = sub.add_parser("check-config", help="校验配置文件")
    check.add_argument("path", nargs="?", type=Path)
    parse = sub.add_parser("parse", help="解析一条群消息，输出 JSON")
    parse.add_argument("--at", help="发送时间，如 2026-03-16T14:20:00+08:00")
    parse.add_argument("--json", dest="file", help="消息文本文件，- 为标准输入")
    parse.add_argument("--jsonl", help='每行一条 {"at": …, "text": …} 的文件（- 为标准输入），逐行输出解析结果')
    parse.add_argument("--config", type=Path)
    sub.add_parser("migrate", help="只执行数据库迁移")
    token = sub.add_parser("token", help="个人 API 令牌：create 人员编号 | revoke 令牌编号 | list")
    token.add_argument("action", choices=["create", "revoke", "list"])
    token.add_argument("target", nargs="?", help="create：人员编号（配置中的 id）；revoke：令牌编号")
    token.add_argument("--label", default="", help="备注，如“气象台接口”")
    token.add_argument("--config", type=Path)
    link = sub.add_parser("login-link", help="为某人生成一次性控制台登录链接和登录码（5分钟内有效）")
    link.add_argument("person_id")
    link.add_argument("--config", type=Path)
    bind = sub.add_parser("bind", help="在服务器上把人员绑定到聊天账号（如第一位管理员；记入审计）")
    bind.add_argument("person_id", help="配置中的人员编号")
    bind_to = bind.add_mutually_exclusive_group(required=True)
    bind_to.add_argument("--wechaty", help="微信号ID（在私聊中发“我是谁”可见）")
    bind_to.add_argument("--sim", help="模拟器中的ID")
    bind.add_argument("--config", type=Path)
    args = parser.parse_args(argv)
    if args.cmd == "check-config":
        from bot.commands import check_config

        env_settings = Settings.from_env(os.environ)
        return check_config(args.path or env_settings.config_path, env_settings.database_url)
    if args.cmd == "parse":
        from bot.commands import parse_command, parse_lines

        if args.jsonl:
            return parse_lines(args.jsonl, args.config)
        if not args.at or not args.file:
            parser.error("parse 需要 --at 和 --json（或 --jsonl）")
        return parse_command(args.at, args.file, args.config)
    settings = Settings.from_env(os.environ, config_path=getattr(args, "config", None),
                                 host=getattr(args, "host", None), port=getattr(args, "port", None),
                                 sim_web=True if getattr(args, "demo", False) else None)
    if args.cmd == "token":
        from bot.tokens import token_command

        return asyncio.run(token_command(settings, args))
    if args.cmd == "migrate":
        from bot.commands import migrate_only

        return asyncio.run(migrate_only(settings))
    if args.cmd == "bind":
        from bot.commands import bind_person

        transport = "wechaty" if args.wechaty else "sim"
        return asyncio.run(bind_person(settings, args.person_id, transport, args.wechaty or args.sim))
    if args.cmd == "login-link":
        from bot.commands import login_link

        return asyncio.run(login_link(settings, args.person_id))
    from bot.logging import setup_logging

    setup_logging(json=settings.log_json)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(serve(settings, args.transport))
    return 0


async def serve(settings: Settings, transport: str) -> int:
    from aiohttp import web

    from bot.app import create_app
    from bot.clock import DemoClock
    from bot.config import ConfigError
    from bot.transports.factory import transport_factories
    from bot.web.app import create_web

    try:
        # the simulator demo gets a clock the console can move forward; a real transport keeps the system clock
        clock = DemoClock(settings.var_dir / "demo_clock") if transport == "sim" else None
        app = create_app(settings, clock=clock, transports=transport_factories(transport, os.environ))
    except ConfigError as e:
        print("配置有误：\n" + str(e), file=sys.stderr)
        return 1
    host = settings.host
    if settings.sim_web and host not in ("127.0.0.1", "localhost", "::1"):
        # the simulator lets anyone speak as anyone: it never listens beyond this machine
        print(f"模拟器已开启，只监听 127.0.0.1（忽略 {host}）。对外服务请关闭模拟器（不设 BOT_SIM / --demo）。",
              file=sys.stderr)
        host = "127.0.0.1"
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await app.start()
    # what start-up built (configuration, directory, mappers) lives as long as the process: the collector
    # skips it from now on, so a full collection mid-burst scans thousands of objects, not hundreds of thousands
    gc.freeze()
    runner = web.AppRunner(create_web(app), handle_signals=False, shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, host, settings.port)
    try:
        await site.start()
    except OSError as e:
        print(f"无法监听 {host}:{settings.port}：{e.strerror}。换个端口：BOT_PORT=8081 make run", file=sys.stderr)
        await app.stop()
        return 1
    page = "/sim" if settings.sim_web else "/healthz"
    print(f"一键直达已启动：http://{host}:{settings.port}{page}  （Ctrl-C 退出）", flush=True)
    await stop.wait()
    print("正在停止…", flush=True)
    await runner.cleanup()
    await app.stop()
    return 0
