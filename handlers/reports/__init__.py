"""日报表: understand inspection reports posted in the groups and keep them as records."""
from __future__ import annotations

from typing import Any

from bot.dispatch import Router
from handlers.reports.bounded import Limits, prepare_report
from handlers.reports.handlers import router
from handlers.reports.parse import Parser
from handlers.reports.workers import ParseWorkers


def setup(app: Any) -> list[Router]:
    # imported here: the lane reads the ack rules, and those read the parser of this package
    from handlers.reports.burst import ReportBurst
    from handlers.reports.lane import ReportBatcher, report_lane

    app.data["parser"] = Parser(app.regions, app.cfg, app.data["calendar"])
    s = app.settings
    if s.parse_processes > 0:  # each builds its own parser from the same inputs (started with the app)
        app.parse_workers = ParseWorkers(s.parse_processes, (app.regions, app.cfg, app.data["calendar"]),
                                         app.spawn, app.log)
        app.data["parse_workers"] = app.parse_workers
    app.data["report_limits"] = Limits(budget_s=s.parse_budget_s, max_text_chars=s.max_text_chars,
                                       max_rows=s.max_report_rows)
    app.data["prepare"].append(prepare_report)
    app.data["report_batcher"] = batcher = ReportBatcher(app)
    app.data["fast_lanes"].append(report_lane)
    app.data["burst_lanes"].append(ReportBurst(app, batcher))
    return [router]
