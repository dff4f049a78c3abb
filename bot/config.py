"""The YAML configuration: regions, units, people, groups, schedules, policies.

Loaded and validated with pydantic; every error names its file, its YAML path and what is expected.
"""
from __future__ import annotations

import json
from datetime import date, time
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.regions import PROVINCE_LEVEL, RegionTree

DOMAINS = ("煤矿", "非煤矿山", "危化品", "烟花爆竹", "工贸", "其他")
ROLES = ("admin", "duty_officer", "division_head", "reporter", "responsible", "superior")
GROUP_ROLES = ("anwei", "chuzhang", "region", "other")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BotInfo(Strict):
    name: str = "应急助手"
    ids: dict[str, str] = Field(default_factory=lambda: {"sim": "bot"})


class Unit(Strict):
    id: str
    name: str
    region: str
    kind: Literal["bureau", "division", "center", "other"] = "bureau"
    domain: str | None = None


class Responsibility(Strict):
    region: str
    title: str = "包保责任人"  # 包保责任人 | 一把手 | 防汛指挥长 | 森林防火指挥长 …
    group: str | None = None  # the group to @ them in (e.g. one of 1,810 forest-fire groups); else the region's


class Person(Strict):
    id: str
    name: str
    unit: str | None = None
    roles: list[str] = Field(default_factory=list)
    domain: str | None = None  # for division_head
    responsible: list[Responsibility] = Field(default_factory=list)
    backup: str | None = None  # AB角
    superior: str | None = None
    phone: str | None = None
    private_notice: bool = True
    account: str = "default"  # the bot account that messages this person privately
    ids: dict[str, str] = Field(default_factory=dict)


class Group(Strict):
    id: str
    name: str
    role: str
    region: str | None = None
    ids: dict[str, str] = Field(default_factory=dict)
    members: list[str] | None = None
    account: str = "default"


class OutboxConfig(Strict):
    rate_per_minute: float = 20
    burst: int = 20
    max_chars: int = 1500
    max_attempts: int = 6  # for unexplained errors while connected; a disconnected account never spends one
    accounts: dict[str, float] = Field(default_factory=dict)  # per-account rate override
    reply_max_age_min: float = 30  # an ordinary reply not sent by then is dropped, with a record and a notice


class HealthConfig(Strict):
    max_down_s: float = 60  # /healthz answers 503 once a transport has been down (or logged out) this long


class Round(Strict):
    remind: time = time(14, 0)
    deadline: time = time(15, 0)


class ScheduleConfig(Strict):
    remind: time = time(14, 0)
    deadline: time = time(15, 0)
    consolidate: time = time(16, 30)
    commentary: list[time] = Field(default_factory=lambda: [time(16, 40)])
    commentary_approve_by: time = time(17, 30)
    commentary_unapproved: Literal["post_draft", "remind"] = "post_draft"
    commentary_to: Literal["private", "chuzhang"] = "private"
    overdue_list: time = time(8, 30)
    extra_workdays: list[date] = Field(default_factory=list)
    extra_holidays: list[date] = Field(default_factory=list)


class EscalationStep(Strict):
    after_min: float
    action: Literal["remention", "private", "call", "sms", "backup", "notify_superior"]


class LevelPolicy(Strict):
    deadline_min: float = 5
    steps: list[EscalationStep] = Field(default_factory=list)
    repeats: int = 1
    repeat_every_min: float = 5


class CallBudget(Strict):
    """Calls per callee that voice providers allow (Aliyun's defaults); beyond them the bot sends SMS."""

    per_minute: int = 1
    per_hour: int = 5
    per_day: int = 20


class WarningsConfig(Strict):
    titles: list[str] = Field(default_factory=lambda: ["一把手", "包保责任人", "防汛指挥长", "森林防火指挥长"])
    levels: dict[str, LevelPolicy] = Field(default_factory=dict)
    summary_every_s: int = 60
    voice_provider: Literal["record", "http"] = "record"
    voice_endpoint: str | None = None
    mention_batch: int = 20
    expire_hours: float = 24
    letter_level: str = "橙色"
    letter_template: str = "prompt_letter.docx"
    call_budget: CallBudget = Field(default_factory=CallBudget)


class Gateway(Strict):
    """One WeChat bot account behind a Wechaty Puppet Service gateway."""

    account: str = "default"
    endpoint: str  # host:port
    token: str | None = None
    token_env: str | None = None  # read the token from this environment variable instead
    tls: bool = False
    ca_file: str | None = None  # PEM file to trust; default the Wechaty community root CA, as the Node client
    server_name: str | None = None  # TLS server name (SNI); default the token's prefix before its last "_"
    groups: list[str] = Field(default_factory=list)  # the groups this account serves


class Config(Strict):
    bot: BotInfo = Field(default_factory=BotInfo)
    regions_file: str = "regions.yaml"
    units: list[Unit] = Field(default_factory=list)
    people: list[Person] = Field(default_factory=list)
    groups: list[Group] = Field(default_factory=list)
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    warnings: WarningsConfig = Field(default_factory=WarningsConfig)
    gateways: list[Gateway] = Field(default_factory=list)
    health: HealthConfig = Field(default_factory=HealthConfig)


class ConfigError(Exception):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def yaml_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(根)"


def _read(path: Path) -> Any:
    """YAML through libyaml; a `.json` file (a province directory of 20,000 people, generated) through
    json, which takes a sixth of the memory and a tenth of the time of any YAML loader."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def load_config(path: Path) -> tuple[Config, RegionTree]:
    """Load and validate; raise ConfigError listing every problem."""
    label = _label(path)
    try:
        raw = _read(path) or {}
    except FileNotFoundError:
        raise ConfigError([f"{label}: 文件不存在"]) from None
    except json.JSONDecodeError as e:
        raise ConfigError([f"{label}: JSON 格式错误 第{e.lineno}行第{e.colno}列: {e.msg}"]) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"第{mark.line + 1}行第{mark.column + 1}列" if mark else ""
        raise ConfigError([f"{label}: YAML 格式错误 {where}: {getattr(e, 'problem', e)}"]) from None
    if not isinstance(raw, dict):
        raise ConfigError([f"{label}: 顶层应为映射（键: 值）"])
    try:
        cfg = Config.model_validate(raw)
    except ValidationError as e:
        raise ConfigError([f"{label}: {yaml_path(err['loc'])}: {_explain(err)}" for err in e.errors()]) from None
    regions_path = path.parent / cfg.regions_file
    try:
        tree = RegionTree.load(regions_path)
    except (OSError, yaml.YAMLError, KeyError, TypeError) as e:
        raise ConfigError([f"{label}: regions_file: 无法读取地区表 {regions_path}: {e}"]) from None
    errors = [f"{label}: {p}: {msg}" for p, msg in check_references(cfg, tree)]
    if errors:
        raise ConfigError(errors)
    for gw in cfg.gateways:  # a group is served by the account whose gateway lists it
        for g in cfg.groups:
            if g.id in gw.groups:
                g.account = gw.account
    return cfg, tree


def check_references(cfg: Config, tree: RegionTree) -> list[tuple[str, str]]:
    errs: list[tuple[str, str]] = []

    def region_ok(where: str, value: str | None) -> None:
        if value is not None and value not in tree.by_key and value != PROVINCE_LEVEL:
            errs.append((where, f'未知地区 "{value}" (可选: {PROVINCE_LEVEL}, {tree.choices()})'))

    unit_ids = _unique(errs, "units", [u.id for u in cfg.units])
    person_ids = _unique(errs, "people", [p.id for p in cfg.people])
    _unique(errs, "groups", [g.id for g in cfg.groups])
    group_ids = {g.id for g in cfg.groups}
    for i, u in enumerate(cfg.units):
        region_ok(f"units[{i}].region", u.region)
        if u.domain and u.domain not in DOMAINS:
            errs.append((f"units[{i}].domain", f'未知领域 "{u.domain}" (可选: {"、".join(DOMAINS)})'))
    for i, p in enumerate(cfg.people):
        if p.unit and p.unit not in unit_ids:
            errs.append((f"people[{i}].unit", f'未知单位 "{p.unit}" (应为 units 中的 id)'))
        for j, role in enumerate(p.roles):
            if role not in ROLES:
                errs.append((f"people[{i}].roles[{j}]", f'未知角色 "{role}" (可选: {", ".join(ROLES)})'))
        if "division_head" in p.roles and p.domain not in DOMAINS:
            errs.append((f"people[{i}].domain", f"处长须注明领域 (可选: {'、'.join(DOMAINS)})"))
        if "reporter" in p.roles and not p.unit:
            errs.append((f"people[{i}].unit", "报送员须注明所属单位"))
        for j, r in enumerate(p.responsible):
            region_ok(f"people[{i}].responsible[{j}].region", r.region)
            if r.group and r.group not in group_ids:
                errs.append((f"people[{i}].responsible[{j}].group", f'未知群 "{r.group}" (应为 groups 中的 id)'))
        for ref in ("backup", "superior"):
            value = getattr(p, ref)
            if value and value not in person_ids:
                errs.append((f"people[{i}].{ref}", f'未知人员 "{value}" (应为 people 中的 id)'))
    for i, g in enumerate(cfg.groups):
        if g.role not in GROUP_ROLES:
            errs.append((f"groups[{i}].role", f'未知群类型 "{g.role}" (可选: {", ".join(GROUP_ROLES)})'))
        if g.role == "region" and not g.region:
            errs.append((f"groups[{i}].region", "地区群须注明地区"))
        region_ok(f"groups[{i}].region", g.region)
        for j, m in enumerate(g.members or []):
            if m not in person_ids:
                errs.append((f"groups[{i}].members[{j}]", f'未知人员 "{m}"'))
    for i, gw in enumerate(cfg.gateways):
        for j, gid in enumerate(gw.groups):
            if gid not in group_ids:
                errs.append((f"gateways[{i}].groups[{j}]", f'未知群 "{gid}"'))
        if ":" not in gw.endpoint:
            errs.append((f"gateways[{i}].endpoint", f'应为 主机:端口，实际为 "{gw.endpoint}"'))
    for level in cfg.warnings.levels:
        if level not in ("红色", "橙色", "黄色", "蓝色"):
            errs.append((f"warnings.levels.{level}", "预警级别应为 红色/橙色/黄色/蓝色"))
    return errs


def _unique(errs: list[tuple[str, str]], section: str, ids: list[str]) -> set[str]:
    seen: set[str] = set()
    for i, x in enumerate(ids):
        if x in seen:
            errs.append((f"{section}[{i}].id", f'重复的 id "{x}"'))
        seen.add(x)
    return seen


def _explain(err: dict) -> str:
    kind = err.get("type", "")
    if kind == "missing":
        return "缺少必填项"
    if kind == "extra_forbidden":
        return "未知字段（请检查拼写）"
    if kind.startswith("time"):
        return f"时间格式应为 HH:MM，实际为 {err.get('input')!r}"
    return f"{err.get('msg')} (实际为 {err.get('input')!r})"


def _label(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
