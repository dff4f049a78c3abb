"""Which supervision division a record belongs to."""
from __future__ import annotations

import re

# An explicit label in a title, a header or the inspecting unit's name.
_LABELS: list[tuple[str, re.Pattern[str]]] = [
    ("非煤矿山", re.compile(r"非煤")),
    ("煤矿", re.compile(r"煤矿|煤监|驻矿盯守")),
    ("烟花爆竹", re.compile(r"烟花爆竹")),
    ("危化品", re.compile(r"危化|危险化学品|加油站|化工企业|油气")),
    ("工贸", re.compile(r"工贸|工矿商贸|粉尘涉爆|涉氨制冷|有限空间|冶金|有色")),
]

# Inference from an enterprise's name (first) and then from its hazards.
_NAME: list[tuple[str, re.Pattern[str]]] = [
    ("工贸", re.compile(r"矿泉水|矿业机械|矿山机械|洗煤|选煤|焦化|煤炭经销|煤炭销售|水泥")),
    ("烟花爆竹", re.compile(r"烟花|爆竹|鞭炮")),
    ("煤矿", re.compile(r"煤矿|煤业|煤炭|矿井")),
    ("危化品", re.compile(r"化工|危险品|危货|危险货物|加油站|加气站|液化气|液化石油|燃气|天然气|气瓶|乙炔|氧气|气体|油库|石化|化学|危化|油品|炼油|农药|涂料|油漆|医药化工|充装")),
    # processing a mineral product in a factory is 工贸; digging it is 非煤矿山
    ("工贸", re.compile(r"矿产品|制品|加工|石材|石英砂|石灰厂")),
    ("非煤矿山", re.compile(r"矿业|矿产|采石|石灰石|石料|砂石|尾矿|铁矿|金矿|铜矿|钼矿|矿山|石矿|硅藻土|露天|[^泉]矿$|矿场|采矿")),
    ("其他", re.compile(r"建筑|建设工程|工程有限|项目|工地|学校|小学|中学|幼儿园|医院|卫生院|养老|敬老|福利院|景区|公园|寺|宾馆|酒店|客运|物业|小区")),
    ("工贸", re.compile(r"钢|铁|铝|铜业|铸造|冶|有色|建材|水泥|玻璃|陶瓷|机械|制造|汽车|电器|粮|米业|面粉|油脂|食品|饮品|饮料|乳|酒|啤酒|酿|矿泉水|纺织|服装|商贸|商场|超市|物流|仓储|冷链|冷藏|冷冻|水产|饲料|木业|木材|家具|塑料|橡胶|造纸|纸业|印刷|包装|制药|药业|电子|科技|实业")),
]
_HAZARD: list[tuple[str, re.Pattern[str]]] = [
    ("煤矿", re.compile(r"瓦斯|带班入井|采煤|掘进|井下|矿长")),
    ("非煤矿山", re.compile(r"采场|边坡|排土场|爆破器材|尾矿")),
    ("危化品", re.compile(r"可燃气体|储罐|罐区|充装|卸油|静电接地|重大危险源|特殊作业|危险化学品|DCS")),
    ("烟花爆竹", re.compile(r"烟花|爆竹")),
    ("工贸", re.compile(r"粉尘|涉氨|液氨|氨|有限空间|熔融|除尘|筒仓")),
]
DEFAULT = "工贸"
COMPANY = re.compile(r"公司|厂|合作社|集团|商行|经销|门市")


def label_domain(text: str | None) -> str | None:
    """A domain named explicitly; None when there is none or when several are named."""
    if not text:
        return None
    found = {domain for domain, pattern in _LABELS if pattern.search(text)}
    if "非煤矿山" in found:
        found.discard("煤矿")
    return found.pop() if len(found) == 1 else None


def decide(labels: list[str | None], enterprise: str, hazards: list[str]) -> str:
    """An explicit label wins over the name, except that fireworks are never 危化品 and a mine is a mine."""
    by_name = infer_domain(enterprise, hazards)
    if by_name == "烟花爆竹" and re.search(r"烟花|爆竹|鞭炮", enterprise):
        return by_name
    label = next((x for x in labels if x), None)
    if label in ("危化品", "工贸") and by_name in ("煤矿", "非煤矿山") and re.search(r"矿$|矿业|采石场|尾矿库|煤业", enterprise):
        return by_name
    return label or by_name


def infer_domain(enterprise: str, hazards: list[str]) -> str:
    for domain, pattern in _NAME:
        if pattern.search(enterprise):
            return domain
    joined = "；".join(hazards)
    for domain, pattern in _HAZARD:
        if pattern.search(joined):
            return domain
    return DEFAULT if COMPANY.search(enterprise) else "其他"
