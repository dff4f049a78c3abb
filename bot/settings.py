"""Process settings: built in main() or a fixture from the environment, never at import."""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseModel):
    database_url: str = f"sqlite+aiosqlite:///{ROOT / 'var' / 'bot.db'}"
    redis_url: str | None = None
    config_path: Path = ROOT / "config" / "demo.yaml"
    host: str = "127.0.0.1"
    port: int = 8080
    var_dir: Path = ROOT / "var"
    api_token: str | None = None
    api_token_owner: str | None = None  # the configured person BOT_API_TOKEN speaks for
    sim_web: bool = False  # the /sim page: `make run` (demo) or BOT_SIM=1; then bound to 127.0.0.1
    allowed_hosts: list[str] = []  # extra Host names the web answers to (loopback always)
    parse_budget_s: float = 2.0  # reading one report (text or workbook), off the event loop
    parse_processes: int = 0  # worker processes that read reports; 0: threads of this process (tests, tools)
    max_text_chars: int = 100_000
    tune_gc: bool = False  # a running bot's collector (see App.start); tests and tools keep Python's defaults
    max_report_rows: int = 3_000
    scheduler: bool = True
    log_json: bool = False
    session_key: str | None = None  # the console cookie key (Fernet); else generated once under var_dir
    public_url: str | None = None  # the console's address in login links; else http://host:port

    @classmethod
    def from_env(cls, env: Mapping[str, str], **overrides: object) -> Settings:
        values: dict[str, object] = {}
        keys = {
            "DATABASE_URL": "database_url",
            "REDIS_URL": "redis_url",
            "BOT_CONFIG": "config_path",
            "BOT_HOST": "host",
            "BOT_PORT": "port",
            "BOT_VAR_DIR": "var_dir",
            "BOT_API_TOKEN": "api_token",
            "BOT_API_TOKEN_OWNER": "api_token_owner",
            "BOT_SESSION_KEY": "session_key",
            "BOT_PUBLIC_URL": "public_url",
        }
        for env_key, field in keys.items():
            if env.get(env_key):
                values[field] = env[env_key]
        if env.get("BOT_SIM", "").lower() in ("1", "true", "yes", "on"):
            values["sim_web"] = True
        values["parse_processes"] = int(env.get("BOT_PARSE_PROCESSES") or default_parse_processes())
        values["tune_gc"] = env.get("BOT_TUNE_GC", "1").lower() not in ("0", "false", "no", "off")
        if env.get("BOT_ALLOWED_HOSTS"):
            values["allowed_hosts"] = [h.strip() for h in env["BOT_ALLOWED_HOSTS"].split(",") if h.strip()]
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls.model_validate(values)
        settings.database_url = async_url(settings.database_url)
        return settings

    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


def default_parse_processes() -> int:
    """A running bot's: one core for the event loop and storage, the others (at most 4) for reading reports;
    on two cores two workers (the event loop mostly waits on the database, and a second worker parses then:
    measured 5-10% more ingest in bursts than one), on one core one."""
    cores = os.cpu_count() or 2
    return max(min(2, cores), min(4, cores - 1))


def async_url(url: str) -> str:
    """Accept the usual DATABASE_URL spellings and pick the async driver."""
    for plain, driver in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("sqlite:///", "sqlite+aiosqlite:///"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain):]
    return url
