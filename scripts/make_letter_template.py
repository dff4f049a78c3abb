"""Write config/prompt_letter.docx, the 提示函 template (placeholders in braces). Run once; edit in Word after."""
from __future__ import annotations

from pathlib import Path

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt

OUT = Path(__file__).resolve().parent.parent / "config" / "prompt_letter.docx"


def main() -> None:
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "仿宋"
    style.font.size = Pt(16)
    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = title.add_run("安全生产提示函")
    run.bold = True
    run.font.size = Pt(22)
    no = doc.add_paragraph("{编号}")
    no.alignment = WD_ALIGN_PARAGRAPH.CENTER
    doc.add_paragraph("{收件人}：")
    doc.add_paragraph("　　经省安委办直接监管日报表和叫应记录梳理，{地区}存在以下问题（事由：{事由}），"
                      "现函告如下，请高度重视，逐项落实整改，实现隐患清零、销号管理：")
    doc.add_paragraph("　　{清单}")
    doc.add_paragraph("　　请收到本函后{回执期限}内在工作群回复“收到”作为回执，并于整改完成后逐项报送整改情况。")
    sign = doc.add_paragraph("省安全生产委员会办公室\n（发函人：{发函人}）\n{日期}")
    sign.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    doc.save(str(OUT))


if __name__ == "__main__":
    main()
