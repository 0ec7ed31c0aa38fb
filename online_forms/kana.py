"""Kana and width normalisation: catalogue search keys and フリガナ answers.

Two jobs, both on user input:

- :func:`search_key` folds a search word and every catalogue text (names, keywords, their
  readings) to one form, so that 「じゅうみんひょう」, 「ジュウミンヒョウ」 and 「ｼﾞｭｳﾐﾝﾋｮｳ」 find the
  same procedure (issue 14, section 3: "kana-insensitive: ひらがな/カタカナ/全角/半角").
- :func:`furigana` checks and normalises the reading (フリガナ) of a name to full-width katakana,
  the form the 住民記録システム標準仕様書 keeps 氏名フリガナ in.

Kana conversion is jaconv's (hiragana → katakana, half-width → full-width katakana with the
sound marks joined: ｼﾞ → ジ, ﾊﾞ → バ); width folding for the search key is Unicode NFKC.
"""

from __future__ import annotations

import unicodedata

import jaconv

#: Removed from search keys: they separate words without changing them (・ in 「マイナンバー・カード」).
#: NFKC has already turned the full-width space U+3000 and the half-width ･ into these.
_SEARCH_SEPARATORS = frozenset(" ・·")

#: Besides katakana letters, what a フリガナ may hold: the long-vowel mark, the middle dot (names of
#: foreign residents, 「スミス・ジョン」) and katakana iteration marks.
_FURIGANA_MARKS = frozenset("ー・ヽヾ")
FULL_WIDTH_SPACE = "\u3000"


class FuriganaRejected(ValueError):
    """A フリガナ answer holds something else than katakana (after normalisation) or nothing at all;
    ``str(err)`` is the message to show, Japanese first, with English."""


def search_key(text: str) -> str:
    """The form in which catalogue texts and search words are compared.

    Steps: Unicode NFKC (full-width Latin and digits → ASCII, half-width katakana → full-width with
    ゛゜ joined), hiragana → **katakana** (chosen over hiragana because katakana is the superset:
    ヷ ヸ ヹ ヺ have no hiragana, so nothing is lost), Latin letters case-folded, and every space
    (ASCII, full-width, tabs) and middle dot (・ ･ ·) removed. Kanji, digits and other characters
    stay as they are. Never raises; ``""`` gives ``""``.

    >>> search_key("じゅうみんひょう") == search_key("ｼﾞｭｳﾐﾝﾋｮｳ") == "ジュウミンヒョウ"
    True
    """
    folded = jaconv.hira2kata(unicodedata.normalize("NFKC", text)).casefold()
    return "".join(ch for ch in folded if not ch.isspace() and ch not in _SEARCH_SEPARATORS)


def _is_katakana(ch: str) -> bool:
    """A full-width katakana letter (small ones and ヴ included), by its Unicode name."""
    return unicodedata.name(ch, "").startswith("KATAKANA LETTER")


def furigana(text: str) -> str:
    """A フリガナ answer in full-width katakana, e.g. ``"やまだ ﾀﾛｳ"`` → ``"ヤマダ　タロウ"``.

    Accepted: full-width katakana, hiragana and half-width katakana (ﾊﾞ → バ, ｰ → ー, ･ → ・),
    the long-vowel mark ー, the middle dot ・ and the iteration marks ヽヾ. Combining sound marks
    are joined first (NFC). Spaces of any kind (ASCII, full-width U+3000, several in a row) between
    the parts the caller passes (姓 and 名) become one full-width space; leading and trailing ones go.

    Raises :class:`FuriganaRejected` (a ``ValueError``) when nothing is left or when any other
    character remains (kanji, Latin letters, digits, punctuation), naming the first such character.
    """
    text = unicodedata.normalize("NFC", text)
    text = jaconv.hira2kata(jaconv.h2z(text, kana=True, ascii=False, digit=False))
    parts = text.split()   # str.split() splits on every Unicode space, U+3000 included
    if not parts:
        raise FuriganaRejected("フリガナを入力してください。 Enter the reading in katakana.")
    for ch in "".join(parts):
        if not (_is_katakana(ch) or ch in _FURIGANA_MARKS):
            raise FuriganaRejected(f"フリガナはカタカナで入力してください（「{ch}」は使えません）。 "
                                   f"Enter the reading in katakana ('{ch}' is not allowed).")
    return FULL_WIDTH_SPACE.join(parts)
