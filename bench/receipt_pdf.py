"""Receipt PDF build time: one application's answers → the bytes of its receipt (online_forms/receipt.py).

Usage: python bench/receipt_pdf.py [--answers 20] [--runs 30] [--compare]

Builds the receipt of a 住民票の写し等の郵送請求 (four sections, ``--answers`` answers in Japanese and
English; past the 20 written here, the list repeats with numbered labels) ``--runs`` times in this
process with Debian's Noto Sans CJK JP. The first build opens the fonts (``cold_ms``); the others
find them open, as a running server does (``build_ms``: their median, ``p99_ms``, ``cpu_ms``: the
median CPU time of one build, which is what 200 citizens submitting at once contend for on two
cores). ``--compare`` also times, once, fpdf2 reading the font collections itself and subsetting
them with fontTools (``fpdf2_ttc_ms``), the path receipt.py avoids. Last line: ``answers=… runs=…
pages=… cold_ms=… build_ms=… p99_ms=… cpu_ms=… size_kb=…``.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import pypdf

from bench._server import percentile
from online_forms.receipt import Receipt, ReceiptRow, receipt_fonts, receipt_pdf

#: (section, label, value): a postal request for a copy of the residence certificate.
ANSWERS = [
    ("請求者 Person requesting", "氏名 Full name", "山田 花子"),
    ("請求者 Person requesting", "フリガナ Name in katakana", "ヤマダ ハナコ"),
    ("請求者 Person requesting", "生年月日 Date of birth", "1988年4月12日（昭和63年）"),
    ("請求者 Person requesting", "住所 Address", "〒123-4567\n東京都みどり市緑町一丁目2番3号 みどりハイツ405"),
    ("請求者 Person requesting", "電話番号 Phone", "090-1234-5678"),
    ("請求者 Person requesting", "メールアドレス Email", "hanako.yamada@example.jp"),
    ("必要な方 Whose certificate", "氏名 Full name", "山田 太郎"),
    ("必要な方 Whose certificate", "生年月日 Date of birth", "1985年9月30日（昭和60年）"),
    ("必要な方 Whose certificate", "請求者との続柄 Relationship", "夫 Husband"),
    ("請求の内容 What you request", "証明書の種類 Certificate",
     "住民票の写し（世帯全員） Copy of the residence certificate (whole household)"),
    ("請求の内容 What you request", "通数 Copies", "2通"),
    ("請求の内容 What you request", "本籍・筆頭者の記載 Registered domicile", "記載する Include"),
    ("請求の内容 What you request", "続柄の記載 Relationships", "記載する Include"),
    ("請求の内容 What you request", "マイナンバーの記載 My Number", "記載しない Do not include"),
    ("請求の内容 What you request", "使用目的 Purpose",
     "勤務先への提出（扶養手当の申請） For my employer (family allowance)"),
    ("請求の内容 What you request", "提出先 Submitted to", "株式会社みどり商事 人事部"),
    ("送付先 Where to send", "郵便番号 Postcode", "123-4567"),
    ("送付先 Where to send", "送付先住所 Address", "東京都みどり市緑町一丁目2番3号 みどりハイツ405"),
    ("送付先 Where to send", "宛名 Addressee", "山田 花子 様"),
    ("送付先 Where to send", "手数料の納付 Fee", "定額小為替 600円（300円×2通）同封 Postal money order enclosed"),
]


def bench_receipt(answers: int) -> Receipt:
    """The receipt with ``answers`` rows (the list above, repeated with numbered labels past 20)."""
    rows = []
    for i in range(answers):
        section, label, value = ANSWERS[i % len(ANSWERS)]
        rows.append(ReceiptRow(label if i < len(ANSWERS) else f"{label} ({i // len(ANSWERS) + 1})", value, section))
    return Receipt(office_name="みどり市役所 Midori City Hall",
                   procedure_name="住民票の写し等の郵送請求 Request for a copy of the residence certificate by post",
                   reference="JMN-7K3Q-9PXD", submitted_at=datetime(2026, 12, 1, 5, 5, tzinfo=UTC), rows=rows,
                   notes=("内容を確認のうえ、1週間程度で郵送します。 "
                          "We check your request and post it within about a week.",
                          "お問い合わせ：みどり市役所 市民課 0120-000-000 Questions: Citizens Section"))


def fpdf2_ttc_ms(receipt: Receipt, fonts: tuple[Path, ...]) -> float:
    """One build of the same texts with fpdf2 reading the collections itself (no table, same text)."""
    from fpdf import FPDF

    start = time.perf_counter()
    pdf = FPDF()
    pdf.add_font("jp", "", fonts[0], collection_font_number=0)
    pdf.add_font("jp", "B", fonts[1], collection_font_number=0)
    pdf.add_page()
    pdf.set_font("jp", "B", 18)
    pdf.cell(text=receipt.reference)
    pdf.set_font("jp", "", 10)
    pdf.ln()
    for row in receipt.rows:
        pdf.multi_cell(0, 5, f"{row.label}\n{row.value}", new_x="LMARGIN", new_y="NEXT")
    pdf.output()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    """Run the benchmark and print its figures."""
    p = argparse.ArgumentParser()
    p.add_argument("--answers", type=int, default=20)
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--compare", action="store_true", help="also time fpdf2 reading the .ttc collections itself")
    args = p.parse_args()
    fonts = receipt_fonts()
    receipt = bench_receipt(args.answers)
    walls: list[float] = []
    cpus: list[float] = []
    pdf = b""
    for _ in range(max(2, args.runs)):
        wall, cpu = time.perf_counter(), time.process_time()
        pdf = receipt_pdf(receipt, fonts)
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    pages = len(pypdf.PdfReader(io.BytesIO(pdf)).pages)
    extra = f" fpdf2_ttc_ms={fpdf2_ttc_ms(receipt, fonts):.0f}" if args.compare else ""
    warm = walls[1:]
    print(f"answers={args.answers} runs={len(walls)} pages={pages} cold_ms={walls[0]:.1f} "
          f"build_ms={statistics.median(warm):.1f} p99_ms={percentile(warm, 0.99):.1f} "
          f"cpu_ms={statistics.median(cpus[1:]):.1f} size_kb={len(pdf) / 1024:.1f}{extra}")


if __name__ == "__main__":
    main()
