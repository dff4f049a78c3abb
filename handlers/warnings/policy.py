"""The escalation schedule of a warning, from its level's policy.

An obligation has one pending step at a time; running it schedules the next (Grafana OnCall's
"one step, then schedule the next after commit"). Warning-level steps are few and made up front."""
from __future__ import annotations

from datetime import datetime, timedelta

from bot.config import Config, LevelPolicy
from bot.config import EscalationStep as StepConfig
from models.warnings import EscalationStep

OBLIGATION_ACTIONS = ("remention", "private", "call", "sms", "backup")
DEFAULT = LevelPolicy(deadline_min=10, repeats=1, steps=[StepConfig(after_min=5, action="remention"),
                                                         StepConfig(after_min=10, action="notify_superior")])


def policy(cfg: Config, level: str) -> LevelPolicy:
    return cfg.warnings.levels.get(level, DEFAULT)


def plan(cfg: Config, level: str) -> list[tuple[float, str, int]]:
    """Every step of the policy over its repeats: (minutes after the start, action, seq), in time order."""
    pol = policy(cfg, level)
    out = []
    for r in range(max(pol.repeats, 1)):
        for i, s in enumerate(pol.steps):
            out.append((s.after_min + r * pol.repeat_every_min, s.action, r * len(pol.steps) + i))
    return sorted(out, key=lambda x: (x[0], x[2]))


def next_obligation_step(cfg: Config, level: str, warning_id: int, obligation_id: int, start: datetime,
                         after_seq: int = -1) -> EscalationStep | None:
    for minutes, action, seq in plan(cfg, level):
        if action in OBLIGATION_ACTIONS and seq > after_seq:
            return EscalationStep(warning_id=warning_id, obligation_id=obligation_id, action=action, seq=seq,
                                  due_at=start + timedelta(minutes=minutes))
    return None


def first_step_rows(cfg: Config, level: str, warning_id: int, obligation_ids: list[int],
                    start: datetime) -> list[dict]:
    """Each obligation's first step as plain rows for one bulk insert (the plan is the same for all)."""
    first = next_obligation_step(cfg, level, warning_id, 0, start)
    if first is None:
        return []
    return [{"warning_id": warning_id, "obligation_id": o, "action": first.action, "seq": first.seq,
             "due_at": first.due_at, "status": "pending"} for o in obligation_ids]


def schedule(cfg: Config, level: str, warning_id: int, obligation_ids: list[int], start: datetime) -> list[EscalationStep]:
    """The warning-level steps, plus each obligation's first step when `obligation_ids` is given."""
    steps = [s for o in obligation_ids if (s := next_obligation_step(cfg, level, warning_id, o, start)) is not None]
    last = start
    for minutes, action, seq in plan(cfg, level):
        due = start + timedelta(minutes=minutes)
        last = max(last, due)
        if action not in OBLIGATION_ACTIONS:
            steps.append(EscalationStep(warning_id=warning_id, action=action, seq=seq, due_at=due))
    steps.append(EscalationStep(warning_id=warning_id, action="rolling", seq=1,
                                due_at=start + timedelta(seconds=cfg.warnings.summary_every_s)))
    steps.append(EscalationStep(warning_id=warning_id, action="finalize", seq=0, due_at=last + timedelta(minutes=1)))
    steps.append(EscalationStep(warning_id=warning_id, action="expire", seq=0,
                                due_at=start + timedelta(hours=cfg.warnings.expire_hours)))
    return steps
