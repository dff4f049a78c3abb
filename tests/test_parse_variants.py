"""Shapes officials really type, beyond the samples."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from bot.clock import TZ
from bot.config import load_config
from bot.settings import ROOT
from handlers.reports.parse import Parser

AT = datetime(2026, 3, 16, 14, 20, tzinfo=TZ)  # Monday


@pytest.fixture(scope="module")
def parser() -> Parser:
    cfg, tree = load_config(ROOT / "config" / "demo.yaml")
    return Parser(tree, cfg)


@pytest.mark.parametrize("text", ["收到", "收到！", "好的，收到", "伊通县应急局已收到", "收到[强]", "已阅", "明白",
                                  "已传达到各乡镇", "收到，马上落实", "收到并转发", "XX县收到", "👌收到", "嗯嗯，收到",
                                  "文件已收到", "通知已收到，马上传达", "白山市应急局：收到", "收到了"])
def test_acknowledgements(parser: Parser, text: str) -> None:
    assert parser.parse(text, AT).kind == "ack"


@pytest.mark.parametrize("text", ["没收到", "收到了吗", "是否收到通知", "请各地收到后回复", "收到没有？", "文件没收到",
                                  "还有哪个县没收到？", "大家都收到通知了吗", "收到的附件打不开，是什么格式",
                                  "收到请回复", "各县区收到请回复"])
def test_look_alikes_are_chatter(parser: Parser, text: str) -> None:
    assert parser.parse(text, AT).kind == "chatter"


@pytest.mark.parametrize("text", ["/汇总 今日", "#统计 3月16日", "@应急助手 帮助", "＃今日未报"])
def test_commands(parser: Parser, text: str) -> None:
    assert parser.parse(text, AT).kind == "command"


def test_labelled_fields_in_any_order_with_half_width_punctuation(parser: Parser) -> None:
    text = ("舒兰市应急管理局2026年3月15日监督检查情况\n被检单位:舒兰市鑫盛化工有限公司\n检查人员:张伟,李强\n"
            "检查地点:舒兰市平安镇\n问题隐患:1、储罐区防火堤有裂缝 2、应急池未设置液位计\n整改情况:责令3月20日前整改完毕\n"
            "检查单位:舒兰市应急管理局")
    r = parser.parse(text, AT)
    rec = r.report.records[0]
    assert r.report.date.isoformat() == "2026-03-15" and r.report.region == "舒兰市"
    assert rec.hazards == ["储罐区防火堤有裂缝", "应急池未设置液位计"]
    assert rec.inspectors == ["张伟", "李强"] and rec.domain == "危化品" and r.problems == []


def test_chinese_numeral_totals_without_records(parser: Parser) -> None:
    r = parser.parse("昨天我局派出三个检查组、十二人次，检查企业八家，发现问题隐患十二处，已整改十处，其余两处限期整改。", AT)
    assert r.kind == "report" and r.report.records == []
    assert r.report.totals == {"teams": 3, "inspectors": 12, "enterprises": 8, "hazards": 12, "rectified": 10}
    assert r.report.date.isoformat() == "2026-03-15"


def test_two_narratives_in_one_message(parser: Parser) -> None:
    text = ("德惠市应急管理局3月15日检查情况：\n德惠市应急管理局执法大队刘洋、陈晨对德惠市米沙子镇华润燃气加气站开展检查，"
            "发现加气机拉断阀未定期检测、站内消防器材未定期检查2处隐患，已责令限期整改。\n"
            "同日，执法大队孙悦、李娜对德惠市鸿运建材有限公司开展检查，未发现问题隐患。")
    recs = parser.parse(text, AT).report.records
    assert [r.enterprise for r in recs] == ["德惠市米沙子镇华润燃气加气站", "德惠市鸿运建材有限公司"]
    assert recs[0].hazards == ["加气机拉断阀未定期检测", "站内消防器材未定期检查"]
    assert recs[0].rectification == "已责令限期整改" and recs[1].inspectors == ["孙悦", "李娜"]


def test_pasted_table_skips_the_totals_row(parser: Parser) -> None:
    text = ("九台区应急管理局3月15日监督检查日报表\n序号\t检查单位\t被检单位\t检查地点\t发现的问题隐患\t检查人员\t整改情况\n"
            "1\t九台区应急管理局\t长春市九台区金鑫煤矿\t九台区营城街道\t1.井下局部通风机无专人管理；2.带班矿长未按规定入井\t刘涛 王斌\t已下达整改指令书\n"
            "2\t九台区应急管理局\t长春市九台区龙兴采石场\t九台区土们岭街道\t无\t刘涛 王斌\t无\n合计\t\t2家\t\t2处\t\t")
    r = parser.parse(text, AT)
    assert [x.domain for x in r.report.records] == ["煤矿", "非煤矿山"]
    assert r.report.region == "长春市九台区" and r.problems == []


def test_missing_fields_are_reported_per_record(parser: Parser) -> None:
    text = ("桦甸市应急管理局3月15日检查情况\n1、受检单位：桦甸市金鼎矿业有限公司\n发现问题：采场边坡浮石未清理\n检查人员：张宏伟\n"
            "2、受检单位：桦甸市红日化工有限公司\n发现问题：储罐区围堰破损\n整改情况：限期5日整改")
    r = parser.parse(text, AT)
    assert r.problems == ["第1条缺少整改情况", "第2条缺少检查人员"]


def test_total_mismatch_is_a_problem(parser: Parser) -> None:
    text = ("长岭县应急管理局3.15日报：检查企业2家，发现隐患5处。\n1、长岭县兴隆加油站:卸油口静电接地夹损坏。检查人员：许文涛。整改情况：已当场整改。\n"
            "2、长岭县长青加油站：未发现问题。检查人员：许文涛")
    assert "合计隐患5处与明细1处不符" in parser.parse(text, AT).problems


def test_xlsx_attachment(parser: Parser, tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["通化市二道江区应急管理局3月15日监督检查情况"])
    ws.append(["检查单位", "受检单位", "检查地点", "发现的问题隐患", "检查人员", "整改情况"])
    ws.append(["二道江区应急管理局", "通化市二道江区鼎盛钢铁铸造有限公司", "鸭园镇", "1.熔炼炉前积水\n2.吊运熔融金属起重机制动器不足",
               "梁晓光、唐志刚", "限期7日内整改"])
    ws.append(["二道江区应急管理局", "通化市二道江区顺达物流有限公司", "五道江镇", "未发现问题隐患", "梁晓光", None])
    ws.append(["合计", None, None, "2处", None, None])
    path = tmp_path / "日报.xlsx"
    wb.save(path)
    r = parser.parse_xlsx(path, "", AT)
    assert r.report.unit == "通化市二道江区应急管理局" and r.report.date.isoformat() == "2026-03-15"
    assert [len(x.hazards) for x in r.report.records] == [2, 0] and r.report.records[0].domain == "工贸"


def test_summary_with_other_wordings(parser: Parser) -> None:
    r = parser.parse("【日报】农安县应急管理局3月16日安全生产监督检查情况\n今日出动检查人员12人次，检查生产经营单位8家，"
                     "排查一般隐患5项，重大隐患0项，整改完成3项。", AT)
    assert r.report.totals == {"teams": None, "inspectors": 12, "enterprises": 8, "hazards": 5, "rectified": 3}
    assert r.report.unit == "农安县应急管理局" and r.report.records == []


def test_narrative_with_a_labelled_tail(parser: Parser) -> None:
    r = parser.parse("汪清县应急管理局 3月16日 检查汪清县林业局木材加工厂，发现隐患2处：除尘设施未正常运行、电气线路老化。"
                     "已责令限期整改。检查人员：朴光明、崔永哲", AT)
    [rec] = r.report.records
    assert rec.enterprise == "汪清县林业局木材加工厂" and rec.hazards == ["除尘设施未正常运行", "电气线路老化"]
    assert rec.inspectors == ["朴光明", "崔永哲"] and rec.rectification == "已责令限期整改。"
    assert r.report.totals["hazards"] is None and r.problems == []  # a count of one record is not a total


def test_inspectors_above_the_list_and_slash_dates(parser: Parser) -> None:
    r = parser.parse("镇赉县应急管理局3/13检查情况\n检查人员：刘波、孙杰\n1.镇赉县宏发粮油有限公司：筒仓无防爆照明。限期整改。\n"
                     "2.镇赉县顺通加油站：未发现问题。", AT)
    assert r.report.date.isoformat() == "2026-03-13" and r.problems == []
    assert [x.inspectors for x in r.report.records] == [["刘波", "孙杰"], ["刘波", "孙杰"]]


def test_team_count_written_after_the_noun(parser: Parser) -> None:
    r = parser.parse("通榆县应急管理局2026.3.13检查情况：派出检查组1个，检查人员2人，检查企业2家，发现隐患1处。\n"
                     "1、通榆县鑫盛建材有限公司，问题：配电箱无门。整改情况：已整改。检查人员：赵六、钱七\n"
                     "2、通榆县金源酒业有限公司，未发现问题。检查人员：赵六、钱七", AT)
    assert r.report.totals == {"teams": 1, "inspectors": 2, "enterprises": 2, "hazards": 1, "rectified": None}


def test_slips_that_would_lose_a_hazard(parser: Parser) -> None:
    """险患 for 隐患 and the Japanese 査 for 查, as typed on a phone: the hazard is still read (it was 隐患0处)."""
    text = ("洮北区应急局昨天检査情况💪：受检单位:白城市鑫源粮食仓储有限公司，险患:筒仓入口未设置有限空间警示标识，"
            "已当场整改；检查人:郑凯 吴建华")
    r = parser.parse(text, AT)
    assert r.report is not None and len(r.report.records) == 1
    assert r.report.records[0].hazards == ["筒仓入口未设置有限空间警示标识"]


def test_a_table_pasted_with_spaces_for_cells(parser: Parser) -> None:
    """As a phone pastes from Excel: spaces where the tabs were, aligned or single; read as the table it is."""
    text = ("延吉市应急管理局3月15日检查情况\n检查单位 受检单位 检查地点 发现的问题隐患 检查人员 整改情况\n"
            "延吉市应急管理局  延吉市东盛液化气有限公司  延吉市北山街  钢瓶检验超期  金哲、朴成  限期整改\n"
            "延吉市应急管理局 延吉市宏图商贸有限公司 延吉市河南街 无 金哲、朴成 无")
    r = parser.parse(text, AT)
    assert r.report is not None and [x.enterprise for x in r.report.records] == ["延吉市东盛液化气有限公司", "延吉市宏图商贸有限公司"]
    assert r.report.records[0].hazards == ["钢瓶检验超期"] and r.report.records[1].hazards == []
    ragged = text + "\n延吉市应急管理局 某公司 某地 有 隐患 张三 李四 限期"  # cells that do not line up: left as text
    assert parser.parse(ragged, AT).report is None or len(parser.parse(ragged, AT).report.records) != 3
