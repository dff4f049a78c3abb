"""The escalation schedule of a warning, from its level's policy."""
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


def schedule(cfg: Config, level: str, warning_id: int, obligation_ids: list[int], start: datetime) -> list[EscalationStep]:
    pol = policy(cfg, level)
    steps: list[EscalationStep] = []
    last = start
    for r in range(max(pol.repeats, 1)):
        offset = timedelta(minutes=r * pol.repeat_every_min)
        for i, s in enumerate(pol.steps):
            due = start + offset + timedelta(minutes=s.after_min)
            last = max(last, due)
            seq = r * len(pol.steps) + i
            if s.action in OBLIGATION_ACTIONS:
                steps.extend(EscalationStep(warning_id=warning_id, obligation_id=o, action=s.action, seq=seq, due_at=due)
                             for o in obligation_ids)
            else:
                steps.append(EscalationStep(warning_id=warning_id, action=s.action, seq=seq, due_at=due))
    steps.append(EscalationStep(warning_id=warning_id, action="rolling", seq=1,
                                due_at=start + timedelta(seconds=cfg.warnings.summary_every_s)))
    steps.append(EscalationStep(warning_id=warning_id, action="finalize", seq=0, due_at=last + timedelta(minutes=1)))
    steps.append(EscalationStep(warning_id=warning_id, action="expire", seq=0,
                                due_at=start + timedelta(hours=cfg.warnings.expire_hours)))
    return steps
