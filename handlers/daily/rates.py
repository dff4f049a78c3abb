"""Reporting rate per 市州 over the last days: unit-days reported against unit-days owed."""
from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.directory import Directory
from bot.workdays import WorkCalendar
from handlers.daily.today import city_order
from models.reports import NEEDS_REVIEW, InspectionReport


async def reporting_rates(session: AsyncSession, directory: Directory, calendar: WorkCalendar, today: date,
                          days: int = 30) -> dict[str, tuple[int, int]]:
    """City → (reports in, reports owed) for the workdays among the last `days` days before today."""
    dates = calendar.workdays(today - timedelta(days=days), today - timedelta(days=1))
    units = {u.id: directory.city_of(u.region) for u in directory.reporting_units()}
    owed = Counter(units.values())
    rows = (await session.exec(
        select(InspectionReport.unit_id, InspectionReport.report_date).where(
            col(InspectionReport.active), col(InspectionReport.report_date).in_(dates),
            InspectionReport.status != NEEDS_REVIEW).distinct()
    )).all()
    reported = Counter(units[u] for u, _ in rows if u in units)
    return {c: (reported.get(c, 0), owed[c] * len(dates)) for c in city_order(directory) if owed.get(c)}
