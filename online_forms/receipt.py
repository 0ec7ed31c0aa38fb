"""The application receipt (申請内容控え / 受付票) as a PDF, given to a citizen after submitting.

What it shows follows the check-your-answers page of the form runner (GOV.UK Forms' confirmation
page and its reference number; issue 14 section 3): the office, the procedure, the reference number
in large type, when the application was received (Asia/Tokyo), every answer as a two-column table
label / value grouped by the page it was asked on, and the notes on what happens next. A4 portrait;
every page carries the reference number and its page number (``1 / 2``).

Drawn with fpdf2; the Japanese type is Noto Sans CJK JP (Debian's fonts-noto-cjk), embedded as a
subset. Given the .ttc collections, fpdf2 (2.8) reads and subsets the 65,000-glyph fonts with
fontTools for every document: about 1.2 s of CPU per receipt, nearly all of it decoding the whole
fonts again. Here each font file is opened once per process with HarfBuzz (uharfbuzz: the file is
memory-mapped, the face read only and shared between threads), and each document first cuts from
it, with hb-subset (about 2 ms), only the characters it draws; fpdf2 reads that small font from a
private temporary folder and subsets it once more while writing. A 20-answer receipt then takes
about 0.1 s of CPU (``bench/receipt_pdf.py``), most of it in that last fontTools pass.

fpdf2 embeds the CID-keyed CFF outlines of Noto CJK as ``CIDFontType0C`` with its own encoding
CMap (valid PDF; PDFium, pdf.js and Poppler render it and extract its text). pypdf (7.1) does not
read an embedded encoding CMap and takes each two-byte code for two one-byte codes, so its text
comes out wrong: read the text back with PDFium (pypdfium2).

Characters that no given font can draw (emoji, a private-use 外字 typed on a PC, a rare
ideograph) never raise: each is drawn as 〓 (U+3013 GETA MARK, the Japanese typesetters' sign for a
character the type lacks), and a note at the end says so. Variation selectors and other invisible
format characters the fonts lack are left out (the base character is drawn), tabs become spaces,
other control characters are left out. The application itself keeps the text as entered.
"""

from __future__ import annotations

import functools
import os
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import zip_longest
from pathlib import Path
from zoneinfo import ZoneInfo

import uharfbuzz as hb
from fpdf import FPDF, FontFace
from fpdf.enums import MethodReturnValue, VAlign, XPos, YPos
from fpdf.prefs import ViewerPreferences
from fpdf.util import Padding

from hardware.ticket import JP_INDEX, TicketFonts, font_path

TOKYO = ZoneInfo("Asia/Tokyo")

#: Drawn for each character that no font has (U+3013 GETA MARK, JIS X 0208 row 2 cell 14).
GETA = "\u3013"

#: Symbol fonts tried after the Japanese ones, when installed (Debian: fonts-dejavu-core; arrows,
#: dingbats, a few emoji in one colour). Missing ones are skipped.
FALLBACK_CANDIDATES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",)

TITLE_JA, TITLE_EN = "申請内容控え", "Application receipt"
CONTINUED = "（続き）(continued)"
GETA_NOTE = (f"{GETA} はこの控えで表示できない文字です。申請には入力どおりに記録されています。 "
             f"{GETA} marks a character this receipt cannot show; your application keeps it as entered.")
INTRO = ("受け付けた申請の内容です。お問い合わせの際は受付番号をお伝えください。 "
         "This is your application as we received it. Please quote the reference number when you contact us.")

# Layout, in mm (A4 portrait: 210 x 297) and points for type.
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 18.0, 16.0, 20.0
LINE_H = 5.6            # one line of the 10 pt body
CELL_PAD = (1.3, 2.2)   # table cell padding: vertical, horizontal
LABEL_SHARE = 0.38      # the label column's share of the table width
#: Lines of one table cell at most: a longer label or value continues in the rows after it
#: (fpdf2 draws a table row on one page only).
MAX_CELL_LINES = 36
GREY = (85, 85, 85)
LABEL_FILL = (238, 238, 238)
RULE = (150, 150, 150)
#: The total page count's placeholder (fpdf2's alias, replaced when the document is closed). It
#: holds control characters, which :func:`_drawable` removes from every text, so no answer can
#: contain it (``{nb}``, fpdf2's default, could be typed by a citizen).
PAGES_ALIAS = "\x1bnb"

#: OpenType tables the receipt's fonts do without: glyph substitution and positioning (fpdf2 shapes
#: no text here) and vertical metrics (the receipt is set horizontally).
_DROPPED_TABLES = ("GSUB", "GPOS", "GDEF", "BASE", "JSTF", "VORG", "vhea", "vmtx")

_REGULAR, _BOLD = "", "B"
_FAMILY = "jp"


@dataclass(frozen=True)
class ReceiptRow:
    """One answer as the check-your-answers page shows it.

    ``label``: the question (Japanese, maybe with English); ``value``: the answer as displayed
    (newlines kept); ``section``: the title of the page it was asked on (consecutive rows with the
    same section are shown under one heading; ``None``: no heading).
    """

    label: str
    value: str
    section: str | None = None


@dataclass(frozen=True)
class Receipt:
    """What one receipt shows. ``submitted_at`` must be aware (printed in Asia/Tokyo); ``reference``
    is the application's reference number (not empty); ``notes`` are printed in order at the end
    (what happens next, where to ask)."""

    office_name: str
    procedure_name: str
    reference: str
    submitted_at: datetime
    rows: Sequence[ReceiptRow]
    notes: Sequence[str] = ()


@dataclass(frozen=True)
class _Font:
    """A font file opened once: HarfBuzz's face (read only, shared between threads) and the code
    points it has glyphs for."""

    face: hb.Face
    unicodes: frozenset[int]


def receipt_fonts(fonts: TicketFonts | None = None) -> tuple[Path, ...]:
    """The fonts for :func:`receipt_pdf`, found as the paper ticket's are: the regular and bold
    Japanese fonts of ``fonts`` (the server's ``ticket_font`` settings; ``None``: none set) or
    Debian's fonts-noto-cjk (:func:`hardware.ticket.font_path`), then the installed
    :data:`FALLBACK_CANDIDATES`.

    Raises :class:`hardware.ticket.TicketFontMissing` (what to install) without a Japanese font.
    """
    chosen = fonts or TicketFonts()
    found = [Path(font_path("regular", chosen)), Path(font_path("bold", chosen))]
    return (*found, *(Path(p) for p in FALLBACK_CANDIDATES if Path(p).is_file()))


def receipt_pdf(receipt: Receipt, fonts: Sequence[Path]) -> bytes:
    """The receipt as the bytes of a PDF document (A4 portrait, fonts embedded as subsets).

    ``fonts``: ``fonts[0]`` draws the text (a Japanese font: Noto Sans CJK JP; face
    :data:`hardware.ticket.JP_INDEX` of a collection), ``fonts[1]`` (when given) the title, headings
    and reference number in bold, and any after them are fallbacks tried in order for the
    characters the first two lack; :func:`receipt_fonts` finds them. Metadata: the title (receipt
    and reference number), language ``ja``, creator, and the creation date set to
    ``submitted_at`` (so the same receipt gives the same bytes); no answer is written there.

    Raises :class:`ValueError` for a naive ``submitted_at``, an empty reference, no fonts or a file
    that is not a font, and :class:`FileNotFoundError` for a font file that does not exist.
    """
    if receipt.submitted_at.tzinfo is None or receipt.submitted_at.utcoffset() is None:
        raise ValueError("submitted_at must be an aware datetime")
    if not receipt.reference.strip():
        raise ValueError("the receipt needs a reference number")
    if not fonts:
        raise ValueError("receipt_pdf needs at least one font (Noto Sans CJK JP: Debian's fonts-noto-cjk)")
    regular = _open_font(fonts[0])
    bold = _open_font(fonts[1]) if len(fonts) > 1 else regular
    fallbacks = [_open_font(p) for p in fonts[2:]]
    return _Builder(receipt, regular, bold, fallbacks).build()


def _open_font(path: Path) -> _Font:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"receipt font not found: {path} (Debian's fonts-noto-cjk installs "
                                "/usr/share/fonts/opentype/noto/NotoSansCJK-*.ttc)") from None
    return _load_font(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _load_font(path: str, mtime_ns: int, size: int) -> _Font:
    """Open ``path`` once per process (keyed by its modification time and size too, so a font
    replaced on disk is read again)."""
    del mtime_ns, size  # only part of the cache key
    index = JP_INDEX if path.lower().endswith((".ttc", ".otc")) else 0
    try:
        face = hb.Face(hb.Blob.from_file_path(path), index)
    except hb.HarfBuzzError as exc:
        raise ValueError(f"receipt font {path} cannot be read: {exc}") from exc
    if face.glyph_count <= 1:
        raise ValueError(f"receipt font {path} is not a font file HarfBuzz can read (TTF, OTF, TTC)")
    return _Font(face, frozenset(face.unicodes))


def format_submitted(at: datetime) -> tuple[str, str]:
    """``at`` (aware) in Asia/Tokyo, in Japanese and in English:
    ``("2026年12月1日 14:05", "2026-12-01 14:05 JST (UTC+09:00)")``."""
    t = at.astimezone(TOKYO)
    return f"{t.year}年{t.month}月{t.day}日 {t:%H:%M}", f"{t:%Y-%m-%d %H:%M} JST (UTC+09:00)"


def _is_variation_selector(cp: int) -> bool:
    return 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF or 0x180B <= cp <= 0x180D


class _Builder:
    """One receipt's drawing: its texts made drawable, the fonts cut to them, the pages laid out."""

    def __init__(self, receipt: Receipt, regular: _Font, bold: _Font, fallbacks: list[_Font]) -> None:
        self.receipt = receipt
        self.by_style = {_REGULAR: regular, _BOLD: bold}
        self.fallbacks = fallbacks
        #: Per font (its position: 0 regular, 1 bold, 2.. fallbacks), the characters it draws.
        self.wanted: dict[int, set[int]] = {}
        self.replaced = False
        #: Whether a character is drawn by another font than its style's own (fpdf2's fallback
        #: search, per character and slower, is only turned on then).
        self.cross_style = False

    # -- text -----------------------------------------------------------------------------------

    def _chain(self, style: str) -> list[tuple[int, _Font]]:
        """The fonts tried for a character in ``style``, in fpdf2's order: the style's own font,
        then the fallbacks as :meth:`_pdf` lists them (the regular font first, for bold text)."""
        chain = [(0, self.by_style[_REGULAR])] if style == _REGULAR else [(1, self.by_style[_BOLD]),
                                                                          (0, self.by_style[_REGULAR])]
        return chain + [(2 + i, f) for i, f in enumerate(self.fallbacks)]

    def _drawable(self, text: str, style: str = _REGULAR) -> str:
        """``text`` as it can be drawn in ``style`` (see the module's docstring), each kept character
        recorded for the font that will draw it."""
        chain = self._chain(style)
        out: list[str] = []
        for ch in text.replace("\r\n", "\n").replace("\r", "\n"):
            cp = ord(ch)
            if ch == "\n" or unicodedata.category(ch) in ("Zl", "Zp"):
                out.append("\n")
                continue
            if ch == "\t":
                ch, cp = " ", 0x20
            category = unicodedata.category(ch)
            if category == "Cc":
                continue
            font = next((i for i, f in chain if cp in f.unicodes), None)
            if font is None:
                if category in ("Cf", "Mn") and (category == "Cf" or _is_variation_selector(cp)):
                    continue
                self.replaced = True
                ch = next((c for c in (GETA, "?") if any(ord(c) in f.unicodes for _, f in chain)), "")
                if not ch:
                    continue
                cp = ord(ch)
                font = next(i for i, f in chain if cp in f.unicodes)
            self.wanted.setdefault(font, set()).add(cp)
            self.cross_style |= font != chain[0][0]
            out.append(ch)
        return "".join(out)

    # -- fonts ----------------------------------------------------------------------------------

    def _subset(self, font: _Font, unicodes: Iterable[int], path: str) -> None:
        """Write to ``path`` the subset of ``font`` with ``unicodes`` (hb-subset), without
        subroutines (fontTools, which fpdf2 runs on it again, then has none to prune) and without
        the layout and vertical-writing tables (fpdf2 draws each character's own glyph, horizontally)."""
        wanted = hb.SubsetInput()
        for cp in unicodes:
            wanted.unicode_set.add(cp)
        wanted.flags = hb.SubsetFlags.DESUBROUTINIZE
        for tag in _DROPPED_TABLES:
            wanted.drop_table_tag_set.add(int.from_bytes(tag.encode("ascii"), "big"))
        with open(path, "wb") as f:
            f.write(hb.subset(font.face, wanted).blob.data)

    def _pdf(self, folder: str, footer_text: str) -> _ReceiptPDF:
        """The document with each font cut to the characters it draws (a fallback that draws
        none is left out) and the fallback order of :meth:`_chain`."""
        pdf = _ReceiptPDF(footer_text)
        fonts = [self.by_style[_REGULAR], self.by_style[_BOLD], *self.fallbacks]
        fallbacks = [_FAMILY]
        for i, font in enumerate(fonts):
            if i >= 2 and i not in self.wanted:
                continue
            path = os.path.join(folder, f"font{i}.otf")
            self._subset(font, self.wanted.get(i, set()) | {0x20}, path)
            family, style = (_FAMILY, _BOLD if i == 1 else _REGULAR) if i < 2 else (f"fallback{i}", _REGULAR)
            pdf.add_font(family, style, path)
            if i >= 2:
                fallbacks.append(family)
            # fpdf2 subsets the (already small) font again with fontTools when writing; the bounding
            # box hb-subset kept is the whole font's, which bounds the subset too, so fontTools need
            # not run every glyph's charstring to recompute it (half of the writing time).
            pdf.fonts[f"{family}{style}"].ttfont.recalcBBoxes = False  # type: ignore[union-attr]
        if len(fallbacks) > 1 or self.cross_style:
            pdf.set_fallback_fonts(fallbacks, exact_match=False)
        return pdf

    # -- document -------------------------------------------------------------------------------

    def build(self) -> bytes:
        r = self.receipt
        d = self._drawable
        submitted_ja, submitted_en = format_submitted(r.submitted_at)
        head = {
            "title": d(TITLE_JA, _BOLD), "title_en": d(TITLE_EN),
            "office": d(r.office_name), "procedure": d(r.procedure_name, _BOLD),
            "ref_label": d("受付番号 Reference number"), "reference": d(r.reference, _BOLD),
            "when_label": d("受付日時 Submitted"), "when": d(f"{submitted_ja}　({submitted_en})"),
            "intro": d(INTRO), "continued": d(CONTINUED),
            "footer": d(f"受付番号 Reference {r.reference}"), "digits": d("0123456789 /"),
        }
        rows = [(d(row.section, _BOLD) if row.section is not None else None, d(row.label), d(row.value))
                for row in r.rows]
        notes_title = d("お知らせ Notes", _BOLD) if r.notes else ""
        notes = [d(f"・{note}") for note in r.notes]
        geta_note = d(GETA_NOTE) if self.replaced else ""

        with tempfile.TemporaryDirectory(prefix="madoguchi-receipt-") as folder:
            pdf = self._pdf(folder, head["footer"])
            _Layout(pdf, head).draw(rows, notes_title, notes + ([geta_note] if geta_note else []))
            pdf.set_title(f"{TITLE_JA} {TITLE_EN} {head['reference']}")
            pdf.set_lang("ja")
            pdf.set_creator("madoguchi")
            pdf.set_creation_date(r.submitted_at)
            pdf.viewer_preferences = ViewerPreferences(display_doc_title=True)
            return bytes(pdf.output())


class _ReceiptPDF(FPDF):
    """fpdf2's document with the receipt's footer on every page: a rule, the reference number
    (``footer_text``) and the page number ``n / total``."""

    def __init__(self, footer_text: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.footer_text = footer_text

    def footer(self) -> None:
        """Drawn by fpdf2 at the end of each page."""
        width = self.w - self.l_margin - self.r_margin
        self.set_y(-MARGIN_BOTTOM + 6)
        self.set_draw_color(*RULE)
        self.set_line_width(0.2)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.set_y(self.get_y() + 1.5)
        self.set_font(_FAMILY, _REGULAR, 8.5)
        self.set_text_color(*GREY)
        self.cell(width / 2, 5, self.footer_text, align="L")
        self.cell(width / 2, 5, f"{self.page_no()} / {PAGES_ALIAS}", align="R")


class _Layout:
    """Draws the pages of one receipt on ``pdf`` (fonts already added) from drawable texts."""

    def __init__(self, pdf: FPDF, head: dict[str, str]) -> None:
        self.pdf = pdf
        self.head = head
        self.width = 210 - 2 * MARGIN_X

    def _font(self, style: str, size: float, grey: bool = False) -> None:
        self.pdf.set_font(_FAMILY, style, size)
        self.pdf.set_text_color(*(GREY if grey else (0, 0, 0)))

    def _para(self, text: str, style: str, size: float, line_h: float, grey: bool = False) -> None:
        self._font(style, size, grey)
        self.pdf.multi_cell(self.width, line_h, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def draw(self, rows: list[tuple[str | None, str, str]], notes_title: str, notes: list[str]) -> None:
        pdf, h = self.pdf, self.head
        pdf.set_margins(MARGIN_X, MARGIN_TOP, MARGIN_X)
        pdf.set_auto_page_break(True, MARGIN_BOTTOM)
        pdf.alias_nb_pages(PAGES_ALIAS, align="L")
        pdf.add_page()
        self._para(h["office"], _REGULAR, 10, 5.5)
        pdf.ln(2)
        self._font(_BOLD, 19)
        pdf.cell(0, 10, h["title"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self._para(h["title_en"], _REGULAR, 11, 6, grey=True)
        pdf.ln(3)
        self._para(h["procedure"], _BOLD, 12.5, 7)
        pdf.ln(3)
        top = pdf.get_y()
        pdf.set_xy(MARGIN_X + 4, top + 3)
        self._font(_REGULAR, 9.5, grey=True)
        pdf.cell(0, 5, h["ref_label"], new_x=XPos.LEFT, new_y=YPos.NEXT)
        self._font(_BOLD, 24)
        pdf.cell(0, 12, h["reference"], new_x=XPos.LEFT, new_y=YPos.NEXT)
        self._font(_REGULAR, 9.5, grey=True)
        pdf.cell(0, 5, h["when_label"], new_x=XPos.LEFT, new_y=YPos.NEXT)
        self._font(_REGULAR, 10.5)
        pdf.multi_cell(self.width - 8, 5.8, h["when"], align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        bottom = pdf.get_y() + 3
        pdf.set_draw_color(0, 0, 0)
        pdf.set_line_width(0.5)
        pdf.rect(MARGIN_X, top, self.width, bottom - top)
        pdf.set_y(bottom + 4)
        self._para(h["intro"], _REGULAR, 9.5, 5.2)
        pdf.ln(3)

        for section, group in _groups(rows):
            self._section(section, group)

        if notes:
            pdf.ln(4)
            if pdf.will_page_break(7 + 3 * LINE_H):
                pdf.add_page()
            if notes_title:
                self._para(notes_title, _BOLD, 11.5, 7)
            for note in notes:
                self._para(note, _REGULAR, 10, LINE_H)

    def _section(self, section: str | None, rows: list[tuple[str, str]]) -> None:
        pdf = self.pdf
        pdf.ln(3)
        # A heading keeps company with at least the start of its first answer.
        if pdf.will_page_break((8 if section else 0) + 3 * LINE_H + 2 * CELL_PAD[0]):
            pdf.add_page()
        if section:
            self._para(section, _BOLD, 11.5, 7)
            pdf.ln(1)
        self._font(_REGULAR, 10)
        label_w = self.width * LABEL_SHARE
        value_w = self.width - label_w
        label_style = FontFace(fill_color=LABEL_FILL)
        pdf.set_draw_color(*RULE)
        pdf.set_line_width(0.2)
        with pdf.table(col_widths=(label_w, value_w), width=self.width, first_row_as_headings=False,
                       line_height=LINE_H, text_align="LEFT", v_align=VAlign.T, padding=CELL_PAD,
                       align="LEFT") as table:
            for label, value in rows:
                labels = self._chunks(label, label_w)
                values = self._chunks(value, value_w)
                for lab, val in zip_longest(labels, values):
                    row = table.row()
                    row.cell(lab if lab is not None else self.head["continued"], style=label_style)
                    row.cell(val or "")

    def _chunks(self, text: str, width: float) -> list[str]:
        """``text`` in pieces of at most :data:`MAX_CELL_LINES` lines as a table cell of ``width``
        wraps it (the whole text when it is shorter)."""
        # No glyph is wider than 1.5 em (10 pt body); a line broken early at a space leaves less
        # than the next word, so two consecutive lines always hold more than one line's width.
        # Below that bound the text cannot reach MAX_CELL_LINES, and is not measured.
        widest_mm = 1.5 * 10 / 72 * 25.4
        bound = text.count("\n") + 1 + 2 * len(text) * widest_mm / max(1.0, width - 2 * CELL_PAD[1])
        if bound < MAX_CELL_LINES:
            return [text]
        lines = self.pdf.multi_cell(width, LINE_H, text, align="L", dry_run=True, output=MethodReturnValue.LINES,
                                    padding=Padding(top=0, right=CELL_PAD[1], bottom=0, left=CELL_PAD[1]))
        assert isinstance(lines, list)
        if len(lines) <= MAX_CELL_LINES:
            return [text]
        return ["\n".join(lines[i:i + MAX_CELL_LINES]) for i in range(0, len(lines), MAX_CELL_LINES)]


def _groups(rows: list[tuple[str | None, str, str]]) -> list[tuple[str | None, list[tuple[str, str]]]]:
    """Consecutive rows of one section, in order: ``[(section, [(label, value), …]), …]``."""
    groups: list[tuple[str | None, list[tuple[str, str]]]] = []
    for section, label, value in rows:
        if not groups or groups[-1][0] != section:
            groups.append((section, []))
        groups[-1][1].append((label, value))
    return groups
