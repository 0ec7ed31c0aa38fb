"""The paper ticket (番号札) as one raster image, drawn with Pillow.

Content follows seed 004 section 8(1)-3 and FLOOR.md section 1: the office, the
procedure, the number in large bold type, people ahead (待ち人数) and expected
wait (待ち時間) at issue time, the date and time, and a QR code of the ticket's
phone page (``/t/<token>``).

Sizes are printer dots at 203 dpi (8 dots per mm): 58 mm paper prints 48 mm
(384 dots), 80 mm paper 72 mm (576 dots). The QR uses error correction level Q
(25 % of the code may be lost: smudged or faded thermal paper), modules of at
least 4 dots (0.5 mm) and the 4-module quiet zone of ISO/IEC 18004 section 6.3.8.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import qrcode
from PIL import Image, ImageDraw, ImageFont
from qrcode.constants import ERROR_CORRECT_Q

TOKYO = ZoneInfo("Asia/Tokyo")

#: Printable width in dots for each paper width in mm (203 dpi heads).
PAPER_DOTS = {58: 384, 80: 576}

#: Where the Japanese fonts are looked for, first found wins, after the files of
#: :class:`TicketFonts` (the server's ``ticket_font`` settings). Debian: fonts-noto-cjk.
FONT_CANDIDATES = {
    "regular": ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"),
    "bold": ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
             "/usr/share/fonts/noto-cjk/NotoSansCJK-Bold.ttc"),
}
#: Index of "Noto Sans CJK JP" inside the Noto CJK collections.
JP_INDEX = 0

WEEKDAYS = "月火水木金土日"


class TicketFontMissing(RuntimeError):
    """No Japanese font was found; the message says what to install."""


@dataclass(frozen=True, slots=True)
class TicketFace:
    """What one ticket shows. ``wait_min``: the expected wait in whole minutes as
    the server's views give it to every screen (``wait_min``, rounded up by
    ``server.views.wait_minutes``; ``None``: no estimate yet); the ticket prints
    it as it is and rounds nothing itself. ``issued_at`` aware; ``url`` the
    phone page the QR opens."""

    office: str
    procedure_ja: str
    procedure_en: str
    number: str
    ahead: int | None
    wait_min: int | None
    issued_at: datetime
    url: str
    reprint: bool = False


@dataclass(frozen=True, slots=True)
class TicketFonts:
    """Font files chosen by the operator (the server's ``ticket_font`` and
    ``ticket_font_bold`` settings), tried before :data:`FONT_CANDIDATES`;
    ``None``: only the candidates."""

    regular: str | None = None
    bold: str | None = None


def font_path(weight: str, fonts: TicketFonts = TicketFonts()) -> str:
    """The font file for ``weight`` (``regular`` or ``bold``): the file ``fonts``
    names for it when that exists, else the first of :data:`FONT_CANDIDATES`.

    Raises :class:`TicketFontMissing` when none is installed, or the variable names no file
    (a wrong setting is reported, not passed over).
    """
    chosen = fonts.bold if weight == "bold" else fonts.regular
    if chosen and not Path(chosen).is_file():
        setting = "MADOGUCHI_TICKET_FONT_BOLD" if weight == "bold" else "MADOGUCHI_TICKET_FONT"
        raise TicketFontMissing(f"{setting}={chosen}: no such font file for tickets; set it to a Japanese font "
                                "(Debian's fonts-noto-cjk installs /usr/share/fonts/opentype/noto/NotoSansCJK-*.ttc)")
    for candidate in ((chosen,) if chosen else ()) + FONT_CANDIDATES[weight]:
        if Path(candidate).is_file():
            return candidate
    raise TicketFontMissing(
        f"no Japanese {weight} font for tickets: install Debian's fonts-noto-cjk "
        "or set MADOGUCHI_TICKET_FONT / MADOGUCHI_TICKET_FONT_BOLD"
    )


def font_problem(fonts: TicketFonts = TicketFonts()) -> str | None:
    """``None`` when the ticket's regular and bold fonts are both found, else what is wrong and
    what to install (the :class:`TicketFontMissing` message), for the warning at start."""
    try:
        for weight in FONT_CANDIDATES:
            font_path(weight, fonts)
    except TicketFontMissing as exc:
        return str(exc)
    return None


@functools.lru_cache(maxsize=8)
def _cmap(path: str) -> frozenset[int]:
    """The code points the font file at ``path`` (face :data:`JP_INDEX` of a collection) has glyphs for."""
    from fontTools.ttLib import TTFont

    index = JP_INDEX if path.lower().endswith((".ttc", ".otc")) else -1
    with TTFont(path, fontNumber=index, lazy=True) as font:
        return frozenset(font.getBestCmap() or {})


def missing_glyphs(text: str, fonts: TicketFonts = TicketFonts()) -> list[str]:
    """The characters of ``text`` (each once, in order) that the ticket's regular
    or bold font has no glyph for, read from the fonts' ``cmap`` tables with
    fontTools; they would print as boxes. Spaces and control characters are
    not counted. Raises :class:`TicketFontMissing` as :func:`font_path`."""
    maps = [_cmap(font_path(weight, fonts)) for weight in FONT_CANDIDATES]
    seen: dict[str, None] = {}
    for ch in text:
        if ch.isspace() or not ch.isprintable() or ch in seen:
            continue
        if any(ord(ch) not in cmap for cmap in maps):
            seen[ch] = None
    return list(seen)


@functools.lru_cache(maxsize=64)
def _font(weight: str, size: int, fonts: TicketFonts) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(font_path(weight, fonts), size, index=JP_INDEX)


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Break ``text`` into lines no wider than ``width`` dots: at spaces for
    Latin text, between any two characters for Japanese."""
    lines: list[str] = []
    line = ""
    for word in _tokens(text):
        if font.getlength(line + word) <= width or not line:
            line += word
            continue
        lines.append(line.rstrip())
        line = word.lstrip()
    while line and font.getlength(line) > width:  # a single over-long token
        cut = max(1, next((i for i in range(len(line), 0, -1) if font.getlength(line[:i]) <= width), 1))
        lines.append(line[:cut])
        line = line[cut:]
    if line:
        lines.append(line)
    return lines


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    for ch in text:
        if out and ch.isascii() and not ch.isspace() and out[-1][-1:].isascii() and not out[-1][-1:].isspace():
            out[-1] += ch
        else:
            out.append(ch)
    return out


def minutes_text(wait_min: int | None) -> tuple[str, str]:
    """The expected wait (whole minutes, already rounded by the server) as
    (Japanese, English), worded as the screens word it."""
    if wait_min is None:
        return "—", "—"
    if wait_min < 1:
        return "まもなく", "soon"
    return f"約{wait_min}分", f"about {wait_min} min"


def qr_image(url: str, module: int) -> Image.Image:
    """The QR code of ``url``: level Q, ``module`` dots per module, 4-module quiet zone."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, box_size=module, border=4)
    code.add_data(url)
    code.make(fit=True)
    return code.make_image(fill_color="black", back_color="white").get_image().convert("L")


def render(face: TicketFace, paper_mm: int = 80, fonts: TicketFonts = TicketFonts()) -> Image.Image:
    """The ticket as a 1-bit image ``PAPER_DOTS[paper_mm]`` dots wide, in the
    Japanese fonts of ``fonts`` (or the installed Noto CJK).

    Raises ``ValueError`` for a paper width other than 58 or 80 and
    :class:`TicketFontMissing` without a Japanese font.
    """
    if paper_mm not in PAPER_DOTS:
        raise ValueError(f"paper must be 58 or 80 mm, not {paper_mm}")
    width = PAPER_DOTS[paper_mm]
    scale = width / 576
    margin = round(8 * scale)
    inner = width - 2 * margin
    canvas = Image.new("L", (width, 3000), 255)
    draw = ImageDraw.Draw(canvas)
    y = round(6 * scale)

    def line(text: str, size: int, weight: str = "regular", gap: int = 6) -> None:
        nonlocal y
        font = _font(weight, max(12, round(size * scale)), fonts)
        for part in _wrap(text, font, inner):
            left, top, right, bottom = draw.textbbox((0, 0), part, font=font)
            draw.text(((width - (right - left)) / 2 - left, y - top), part, font=font, fill=0)
            y += int(bottom - top) + round(gap * scale)  # FreeType boxes are whole dots

    def rule() -> None:
        nonlocal y
        y += round(6 * scale)
        draw.line((margin, y, width - margin, y), fill=0, width=max(2, round(3 * scale)))
        y += round(14 * scale)

    if face.reprint:
        line("再発行 REPRINT", 26, "bold", 10)
    line(face.office, 28, "regular", 10)
    rule()
    line(face.procedure_ja, 38, "bold", 8)
    line(face.procedure_en, 24, "regular", 8)
    rule()
    line("受付番号 Your number", 26, "regular", 4)
    # The number: as large as fits, bold (seed 004 8(1)-3).
    size = round(230 * scale)
    bold = _font("bold", size, fonts)
    while bold.getlength(face.number) > inner and size > 40:
        size -= 8
        bold = _font("bold", size, fonts)
    left, top, right, bottom = draw.textbbox((0, 0), face.number, font=bold)
    draw.text(((width - (right - left)) / 2 - left, y - top + round(6 * scale)), face.number, font=bold, fill=0)
    y += int(bottom - top) + round(26 * scale)
    ja, en = minutes_text(face.wait_min)
    ahead = "—" if face.ahead is None else str(face.ahead)
    line(f"お待ちの人数 {ahead}人", 32, "bold", 2)
    line(f"People ahead: {ahead}", 22, "regular", 10)
    line(f"待ち時間の目安 {ja}", 32, "bold", 2)
    line(f"Estimated wait: {en}", 22, "regular", 6)
    rule()
    module = max(4, min(8, inner // 2 // 41))
    qr = qr_image(face.url, module)
    canvas.paste(qr, ((width - qr.width) // 2, y))
    y += qr.height
    line("スマートフォンで読み取ると呼出状況がわかります", 22, "regular", 4)
    line("Scan to follow your place in line", 20, "regular", 10)
    local = face.issued_at.astimezone(TOKYO)
    issued = f"{local.year}年{local.month}月{local.day}日({WEEKDAYS[local.weekday()]}) {local:%H:%M} 発券"
    line(issued, 24, "regular", 4)
    line("番号が呼ばれたら表示の窓口へお越しください", 22, "regular", 4)
    y += round(20 * scale)
    cropped = canvas.crop((0, 0, width, y))
    return cropped.point(lambda v: 255 if v >= 128 else 0, mode="1")


def preview_png(face: TicketFace, paper_mm: int = 80, fonts: TicketFonts = TicketFonts()) -> bytes:
    """The same ticket as PNG bytes, for the kiosk screen when nothing prints."""
    out = io.BytesIO()
    render(face, paper_mm, fonts).save(out, format="PNG", optimize=True)
    return out.getvalue()
