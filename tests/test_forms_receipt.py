"""The application receipt PDF (online_forms/receipt.py), built with the real Noto Sans CJK JP fonts
and read back: its text with PDFium (the engine of Chrome and Android's viewer), its structure
(pages, embedded font subsets, metadata) with pypdf."""

from __future__ import annotations

import io
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pypdf
import pypdfium2
import pytest
from fontTools.ttLib import TTFont
from pypdf.generic import DictionaryObject

from online_forms.receipt import GETA, Receipt, ReceiptRow, format_submitted, receipt_fonts, receipt_pdf

SUBMITTED = datetime(2026, 12, 1, 5, 5, tzinfo=UTC)   # 14:05 in Tokyo
SECTIONS = ("請求者 Person requesting", "請求の内容 What you request", "送付先 Where to send")


def receipt(rows: list[ReceiptRow], notes: tuple[str, ...] = ("2週間以内に郵送します。 We post it within two weeks.",),
            reference: str = "JMN-7K3Q-9PXD", submitted_at: datetime = SUBMITTED) -> Receipt:
    return Receipt(office_name="みどり市役所 Midori City Hall",
                   procedure_name="住民票の写し等の郵送請求 Request for a copy of the residence certificate by post",
                   reference=reference, submitted_at=submitted_at, rows=rows, notes=notes)


def sixty_rows() -> list[ReceiptRow]:
    """60 answers in three sections, each with a marker ``回答-NNN`` that appears once."""
    return [ReceiptRow(label=f"質問{i:02d} 請求者の氏名 Name of the person requesting",
                       value=f"回答-{i:03d} 山田 花子 Yamada Hanako\n東京都みどり市緑町一丁目2番3号",
                       section=SECTIONS[i // 20]) for i in range(60)]


def pages_text(pdf: bytes) -> list[str]:
    """Each page's text as PDFium extracts it."""
    doc = pypdfium2.PdfDocument(pdf)
    try:
        return [str(page.get_textpage().get_text_range()) for page in doc]
    finally:
        doc.close()


def dictionary(value: object) -> DictionaryObject:
    """``value`` (maybe an indirect reference) as the PDF dictionary it must be."""
    resolved = value.get_object() if isinstance(value, pypdf.generic.IndirectObject) else value
    assert isinstance(resolved, DictionaryObject), resolved
    return resolved


def page_fonts(page: pypdf.PageObject) -> list[DictionaryObject]:
    """The font dictionaries a page uses."""
    return [dictionary(font) for font in dictionary(dictionary(page["/Resources"])["/Font"]).values()]


def squeeze(text: str) -> str:
    """``text`` without any whitespace (line breaks fall where the layout put them)."""
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def fonts() -> tuple[Path, ...]:
    return receipt_fonts()


def test_a_long_application_spans_pages_and_reads_back(fonts: tuple[Path, ...]) -> None:
    pdf = receipt_pdf(receipt(sixty_rows()), fonts)
    assert pdf.startswith(b"%PDF-")
    texts = pages_text(pdf)
    pages = len(texts)
    assert pages >= 2
    assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages) == pages
    first, everything = texts[0], squeeze("".join(texts))
    for expected in ("申請内容控え", "Application receipt", "みどり市役所 Midori City Hall", "JMN-7K3Q-9PXD",
                     "受付番号 Reference number", "2026年12月1日 14:05", "2026-12-01 14:05 JST"):
        assert expected in first, expected
    assert squeeze("住民票の写し等の郵送請求 Request for a copy of the residence certificate by post") in squeeze(first)
    for i in range(60):   # every answer, once, label and value
        assert everything.count(f"回答-{i:03d}") == 1, i
        assert squeeze(f"質問{i:02d} 請求者の氏名 Name of the person requesting") in everything, i
    assert everything.count(squeeze("山田 花子 Yamada Hanako")) == 60
    assert everything.count("東京都みどり市緑町一丁目2番3号") == 60
    for section in SECTIONS:   # one heading per section: consecutive rows are grouped
        assert everything.count(squeeze(section)) == 1, section
    assert everything.index(squeeze(SECTIONS[0])) < everything.index("回答-000") < everything.index(
        squeeze(SECTIONS[1])) < everything.index("回答-020") < everything.index(squeeze(SECTIONS[2]))
    assert squeeze("お知らせ Notes") in everything and "2週間以内に郵送します。" in everything
    for n, text in enumerate(texts, 1):   # every page: the reference number and "n / total"
        assert re.search(rf"(?<!\d){n} / {pages}(?!\d)", text), (n, text[-200:])
        assert "受付番号 Reference JMN-7K3Q-9PXD" in text, n
    assert GETA not in everything   # nothing was replaced


def test_fonts_are_embedded_subsets_and_metadata_holds_no_answer(fonts: tuple[Path, ...]) -> None:
    pdf = receipt_pdf(receipt(sixty_rows()), fonts)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    seen: set[str] = set()
    for page in reader.pages:
        for font in page_fonts(page):
            assert str(font["/Subtype"]) == "/Type0"
            descendants = font["/DescendantFonts"]
            assert isinstance(descendants, pypdf.generic.ArrayObject)
            descriptor = dictionary(dictionary(descendants[0])["/FontDescriptor"])
            assert "/FontFile2" in descriptor or "/FontFile3" in descriptor, descriptor
            assert "/ToUnicode" in font   # text can be searched and copied
            seen.add(str(font["/BaseFont"]))
    # The Japanese regular and bold, each a subset (a six-letter tag, "+", the font's name).
    assert any(re.fullmatch(r"/[A-Z]{6}\+NotoSansCJKJP", name) for name in seen), seen
    assert any(re.fullmatch(r"/[A-Z]{6}\+NotoSansCJKJPBold", name) for name in seen), seen
    assert len(pdf) < 200_000   # subsets: the fonts alone are 16 MB each
    meta = reader.metadata
    assert meta is not None and meta.title == "申請内容控え Application receipt JMN-7K3Q-9PXD"
    assert meta.creator == "madoguchi"
    assert meta.creation_date is not None and meta.creation_date.astimezone(UTC) == SUBMITTED
    catalog = dictionary(reader.trailer["/Root"])
    assert str(catalog["/Lang"]) == "ja"
    assert bool(dictionary(catalog["/ViewerPreferences"])["/DisplayDocTitle"])
    for key, value in meta.items():   # no answer and no procedure in the metadata
        assert "山田" not in str(value) and "住民票" not in str(value), key
    assert set(meta) <= {"/Title", "/Creator", "/Producer", "/CreationDate"}, set(meta)
    assert reader.pages[0].mediabox.width == pytest.approx(595.28, abs=0.1)   # A4 portrait
    assert reader.pages[0].mediabox.height == pytest.approx(841.89, abs=0.1)


def covered(path: Path, char: str) -> bool:
    """Whether the font file (face 0 of a collection) maps ``char`` in its cmap (fontTools)."""
    with TTFont(path, fontNumber=0, lazy=True) as font:
        return ord(char) in (font.getBestCmap() or {})


def test_characters_no_font_has_do_not_raise_and_are_drawn_as_geta(fonts: tuple[Path, ...]) -> None:
    sushi, gaiji = "\U0001f363", "\ue000"   # an emoji and a private-use 外字 typed on a PC
    assert not any(covered(p, sushi) or covered(p, gaiji) for p in fonts)
    assert covered(fonts[0], "𠮷")   # 𠮷 (U+20BB7, つちよし) is in Noto Sans CJK JP
    rows = [ReceiptRow("氏名 Name", f"𠮷田 {gaiji}子 {sushi}"),
            ReceiptRow("備考 Notes", "葛\U000e0100飾区\x07\tタブ\u200d{nb}", "その他 Other")]
    pdf = receipt_pdf(receipt(rows), fonts)
    text = "".join(pages_text(pdf))
    assert f"𠮷田 {GETA}子 {GETA}" in text
    assert "葛飾区" in text and " タブ" in text   # the variation selector, BEL and ZWJ left out; tab → space
    assert "{nb}" in text   # a citizen's "{nb}" is not fpdf2's page-count alias
    assert squeeze(f"{GETA} はこの控えで表示できない文字です。") in squeeze(text)
    assert sushi not in text and gaiji not in text and "\x07" not in text


def test_a_fallback_font_draws_what_the_japanese_fonts_lack(fonts: tuple[Path, ...]) -> None:
    if len(fonts) < 3:
        pytest.skip("no fallback font installed (Debian's fonts-dejavu-core)")
    smile = "\U0001f600"
    assert not covered(fonts[0], smile) and covered(fonts[2], smile)
    pdf = receipt_pdf(receipt([ReceiptRow("気分 Mood", f"よい {smile}")]), fonts)
    assert f"よい {smile}" in "".join(pages_text(pdf))
    names = {str(font["/BaseFont"]) for font in page_fonts(pypdf.PdfReader(io.BytesIO(pdf)).pages[0])}
    assert any("+DejaVuSans" in name for name in names), names


def test_a_value_longer_than_a_page_continues_on_the_next(fonts: tuple[Path, ...]) -> None:
    value = "".join(f"段落{i:03d}：申請の理由を詳しく書きます。" for i in range(240))
    pdf = receipt_pdf(receipt([ReceiptRow("申請の理由 Reason", value), ReceiptRow("最後 Last", "おわり")]), fonts)
    texts = pages_text(pdf)
    assert len(texts) >= 3
    everything = squeeze("".join(texts))
    positions = [everything.index(f"段落{i:03d}") for i in range(240)]
    assert positions == sorted(positions)   # all of it, in order
    assert squeeze("（続き）(continued)") in everything
    assert everything.index("段落239") < everything.index("おわり")


def test_the_time_is_printed_in_tokyo_and_the_bytes_are_reproducible(fonts: tuple[Path, ...]) -> None:
    at = datetime(2026, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5)))   # 1 January 13:30 in Tokyo
    assert format_submitted(at) == ("2027年1月1日 13:30", "2027-01-01 13:30 JST (UTC+09:00)")
    r = receipt([ReceiptRow("氏名 Name", "山田 太郎")], notes=(), submitted_at=at)
    pdf = receipt_pdf(r, fonts)
    text = pages_text(pdf)[0]
    assert "2027年1月1日 13:30" in text and "2027-01-01 13:30 JST" in text
    assert "お知らせ" not in text   # no notes, no heading
    assert receipt_pdf(r, fonts) == pdf


def test_receipts_built_in_threads_at_once_are_the_same_as_one_by_one(fonts: tuple[Path, ...]) -> None:
    """The server builds receipts in worker threads, sharing the fonts opened once."""
    receipts = [receipt(sixty_rows()[i:i + 20], reference=f"JMN-TEST-{i:04d}") for i in range(8)]
    alone = [receipt_pdf(r, fonts) for r in receipts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(lambda r: receipt_pdf(r, fonts), receipts))
    assert together == alone
    assert len(set(alone)) == len(alone)


def test_one_font_is_enough(fonts: tuple[Path, ...]) -> None:
    pdf = receipt_pdf(receipt(sixty_rows()[:3]), fonts[:1])
    assert "回答-002" in "".join(pages_text(pdf))


def test_bad_input_is_refused_clearly(fonts: tuple[Path, ...], tmp_path: Path) -> None:
    rows = [ReceiptRow("氏名 Name", "山田 太郎")]
    with pytest.raises(ValueError, match="aware"):
        receipt_pdf(receipt(rows, submitted_at=datetime(2026, 12, 1, 14, 5)), fonts)
    with pytest.raises(ValueError, match="reference"):
        receipt_pdf(receipt(rows, reference="  "), fonts)
    with pytest.raises(ValueError, match="at least one font"):
        receipt_pdf(receipt(rows), [])
    with pytest.raises(FileNotFoundError, match="fonts-noto-cjk"):
        receipt_pdf(receipt(rows), [tmp_path / "missing.ttc"])
    not_a_font = tmp_path / "not-a-font.ttf"
    not_a_font.write_text("これはフォントではありません", encoding="utf-8")
    with pytest.raises(ValueError, match="not a font"):
        receipt_pdf(receipt(rows), [not_a_font])
