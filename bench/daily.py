"""One year of reports for the whole Jilin tree (every city, county and 省本级: about 70 units,
~20 records each per workday), then time one day's 日报表 text, its Excel file, and one 日点评 set.

Limits named: report_s <= 2, excel_s <= 10, commentary_s <= 5; ratio = Excel build / the same detail rows
written into one sheet with openpyxl alone. Our build also generates those rows from the database objects
and writes the 汇总 sheet and the header styles, so the limit is ratio <= 3."""
from __future__ import annotations

import asyncio
import os
import random
import shutil
import time
from datetime import date, timedelta
from pathlib import Path

import yaml
from _common import fake_clock, figures, quiet, scratch_settings, tmpdir
from openpyxl import Workbook
from sqlalchemy import insert

from bot.app import create_app
from bot.settings import ROOT
from handlers.daily.commentary import DIVISIONS, draft
from handlers.daily.consolidate import summary_text
from handlers.daily.excel import COLUMNS, build_workbook, detail_rows
from handlers.daily.figures import load_day, missing_units
from models.reports import Hazard, InspectionRecord, InspectionReport

RECORDS = int(os.environ.get("BENCH_RECORDS", "20"))
DAYS = int(os.environ.get("BENCH_DAYS", "365"))
DOMAINS = ("危化品", "工贸", "非煤矿山", "煤矿", "烟花爆竹")
HAZARDS = ("罐区可燃气体报警器未按期检定", "粉尘涉爆区域积尘未及时清理", "有限空间作业未执行审批制度", "采场边坡未按设计形成台阶",
           "带班矿长入井记录填写不规范", "库房超量储存")


def whole_tree_config(tmp: Path) -> Path:
    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text(encoding="utf-8"))
    from bot.regions import RegionTree

    tree = RegionTree.load(ROOT / "config" / "regions.yaml")
    have = {u["region"] for u in cfg["units"] if u.get("kind", "bureau") == "bureau"}
    for i, key in enumerate(sorted(set(tree.by_key) - have)):
        cfg["units"].append({"id": f"u{i}", "name": f"{key}应急管理局", "region": key})
        cfg["people"].append({"id": f"r{i}", "name": f"报送员{i}", "unit": f"u{i}", "roles": ["reporter"], "ids": {"sim": f"r{i}"}})
    for name in ("regions.yaml", "templates.yaml", "prompt_letter.docx"):
        shutil.copy(ROOT / "config" / name, tmp / name)
    path = tmp / "bench.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


async def generate(app: object, days: list[date]) -> int:
    rng = random.Random(7)
    units = app.directory.reporting_units()  # type: ignore[attr-defined]
    n = 0
    for day in days:
        async with app.sessions() as s:  # type: ignore[attr-defined]
            reports = [dict(unit_id=u.id, unit_name=u.name, region=u.region, report_date=day, round=1, posted_by="bench",
                            posted_at=app.clock.now(), active=True, late=False, corrected=False, source="text",  # type: ignore[attr-defined]
                            problems=[]) for u in units]
            ids = (await (await s.connection()).execute(insert(InspectionReport).returning(InspectionReport.id), reports)).scalars().all()
            recs = []
            for rid, u in zip(ids, units, strict=True):
                for k in range(RECORDS):
                    recs.append(dict(report_id=rid, seq=k + 1, enterprise=f"{u.name[:4]}第{k}企业有限公司", inspecting_unit=u.name,
                                     location="工业园区", domain=DOMAINS[k % 5], inspectors=["张三", "李四"],
                                     rectification="责令限期7日内整改", hazard_count=1))
            rec_ids = (await (await s.connection()).execute(insert(InspectionRecord).returning(InspectionRecord.id, InspectionRecord.report_id), recs)).all()
            region = {rid: u.region for rid, u in zip(ids, units, strict=True)}
            hz = [dict(report_id=rep, record_id=rec, unit_id=None, region=region[rep], enterprise="企业", domain=DOMAINS[i % 5],
                       text=HAZARDS[i % len(HAZARDS)], found_on=day, status="open" if rng.random() < 0.3 else "rectified",
                       deadline=day + timedelta(days=7), created_at=app.clock.now())  # type: ignore[attr-defined]
                  for i, (rec, rep) in enumerate(rec_ids)]
            await (await s.connection()).execute(insert(Hazard), hz)
            await s.commit()
            n += len(recs)
    return n


async def main() -> None:
    quiet()
    with tmpdir() as tmp:
        settings = scratch_settings(tmp, config_path=whole_tree_config(Path(tmp)))
        app = create_app(settings, clock=fake_clock())
        await app.start(background=False)
        cal = app.data["calendar"]
        end = date(2026, 3, 13)
        days = cal.workdays(end - timedelta(days=DAYS), end)
        t0 = time.perf_counter()
        n = await generate(app, days)
        gen_s = time.perf_counter() - t0
        units = len(app.directory.reporting_units())
        print(f"generated {len(days)} workdays × {units} units × {RECORDS} records = {n} records in {gen_s:.1f}s")
        async with app.sessions() as s:
            t0 = time.perf_counter()
            data = await load_day(s, end)
            missing_u = missing_units(app.directory, {r.unit_id for r in data.reports})
            missing = [u.name for u in missing_u]
            text = summary_text(app.directory, data, missing_u)
            report_s = time.perf_counter() - t0
            path = Path(tmp) / "out.xlsx"
            t0 = time.perf_counter()
            build_workbook(app.directory, data, missing, path)
            excel_s = time.perf_counter() - t0
            rows = list(detail_rows(app.directory, data, False)) + list(detail_rows(app.directory, data, True))
            t0 = time.perf_counter()
            wb = Workbook()
            ws = wb.active
            ws.append(COLUMNS)
            for row in rows:
                ws.append(list(row))
            wb.save(Path(tmp) / "bare.xlsx")
            bare_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            drafts = [await draft(s, app.directory, data, d, app.clock.now(), 1) for d in DIVISIONS]
            commentary_s = time.perf_counter() - t0
        await app.stop()
    ratio = excel_s / bare_s
    print(f"日报表 text ({len(text)} chars, {len(data.reports)} reports): {report_s:.3f}s (limit 2s: {report_s / 2:.2f} of it)")
    print(f"Excel ({len(rows)} rows): {excel_s:.3f}s; openpyxl alone: {bare_s:.3f}s; ratio {ratio:.2f} (limit 3)")
    print(f"日点评 set ({sum(1 for d in drafts if d)} divisions): {commentary_s:.3f}s (limit 5s: {commentary_s / 5:.2f} of it)")
    print("RESULT " + figures(report_s=round(report_s, 3), excel_s=round(excel_s, 3), commentary_s=round(commentary_s, 3),
                 ratio=round(ratio, 2)))


if __name__ == "__main__":
    asyncio.run(main())
