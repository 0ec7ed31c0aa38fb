"""Reference numbers (受付番号) given to an application when it is submitted.

A procedure's pattern mixes fixed text with fields: ``{yyyy}`` ``{yy}`` ``{mm}``
``{dd}`` (the Asia/Tokyo date of submission), ``{seq:N}`` (the procedure's running
count, N digits) and ``{rand:N}`` (N characters of Crockford's base 32: no I, L,
O, U, so a number read over the phone is not misheard). The default
``{rand:4}-{rand:4}`` follows GOV.UK Forms' 8-character references; a pattern
must hold a ``seq`` or ≥ 6 random characters, so that references stay unique
(the store refuses a duplicate and the caller draws again).
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import datetime

from server.core.calendar import TOKYO

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32
DEFAULT = "{rand:4}-{rand:4}"
_FIELD = re.compile(r"\{(yyyy|yy|mm|dd|seq:(\d{1,2})|rand:(\d{1,2}))\}")


def check_pattern(pattern: str) -> None:
    """Raise ValueError (Japanese, then English) unless ``pattern`` can number
    applications uniquely and reads well (≤ 40 characters of output)."""
    if len(pattern) > 60 or re.fullmatch(r"[A-Z0-9\-_/]*(\{[a-z]+(:[0-9]+)?\}[A-Z0-9\-_/]*)*", pattern) is None:
        raise ValueError("受付番号の形式には英大文字・数字・-・_・/ と {…} の項目だけが使えます。 "
                         "A reference pattern uses capital letters, digits, - _ / and {fields} only "
                         "(references are read back in capitals).")
    stripped = _FIELD.sub("", pattern)
    if "{" in stripped or "}" in stripped:
        raise ValueError("受付番号の形式に不明な項目があります。 The reference pattern has an unknown {field}.")
    seq = any(m.group(2) for m in _FIELD.finditer(pattern))
    rand = sum(int(m.group(3)) for m in _FIELD.finditer(pattern) if m.group(3))
    if not seq and rand < 6:
        raise ValueError("受付番号の形式には {seq:N} か6文字以上の {rand:N} が必要です。 "
                         "A reference pattern needs {seq:N} or at least 6 random characters.")
    if len(make(pattern, datetime(2000, 1, 1, tzinfo=TOKYO), 0)) > 40:
        raise ValueError("受付番号が長すぎます（40文字まで）。 References are at most 40 characters.")


def make(pattern: str, now: datetime, seq: int) -> str:
    """The reference for the ``seq``-th application (from 1) submitted at ``now``
    (aware) under ``pattern``."""
    local = now.astimezone(TOKYO)

    def field(m: re.Match[str]) -> str:
        name = m.group(1)
        if m.group(2):
            return f"{seq:0{int(m.group(2))}d}"
        if m.group(3):
            return "".join(secrets.choice(ALPHABET) for _ in range(int(m.group(3))))
        return {"yyyy": f"{local.year:04d}", "yy": f"{local.year % 100:02d}", "mm": f"{local.month:02d}",
                "dd": f"{local.day:02d}"}[name]

    return _FIELD.sub(field, pattern)


def normalise(text: str) -> str:
    """A reference as typed by a citizen (full-width, lower case, spaces) in its
    canonical form, for lookups."""
    return unicodedata.normalize("NFKC", text).upper().replace(" ", "").strip()
