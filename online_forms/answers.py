"""One answer checked and normalised against its question: what the server stores
is always the normalised value, whatever the browser sent.

Shapes stored (JSON), by question type:

- ``text``, ``long_text``, ``email``, ``phone`` (``03-1234-5678``), ``date`` and
  ``birth_date`` (``YYYY-MM-DD``), ``choice`` (the option's value): a string;
- ``number``: an int (``integer``) or a float; ``yes_no``: a bool;
- ``multi_choice``: the chosen values in the options' order;
- ``name``: ``{"family", "given", "family_kana", "given_kana"}`` (kana in full-width katakana);
- ``address``: ``{"postal_code": "1000001", "address", "building"}`` (方書 may be "");
- ``sex``: ISO 5218 code ``"1"`` male, ``"2"`` female, ``"0"`` 回答しない (not known);
- ``file``: ``{"id", "name", "type", "size"}`` of an attachment already received;
- ``group``: a list of items, each a mapping of its inner answers.

Text is NFC-normalised and trimmed; widths are folded only where the type says
(numbers, dates, postal codes, phone numbers, kana). Errors are
:class:`AnswerError` with a stable ``code`` and a message in Japanese, then English.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from email_validator import EmailNotValidError, validate_email

from server.core.errors import DomainError

from . import patterns
from .form import Question
from .kana import furigana
from .phone import japanese_phone


class AnswerError(DomainError):
    """An answer that does not fit its question; ``code`` names the rule broken
    (e.g. ``required``, ``too_long``), ``message`` says it in Japanese, then English."""


@dataclass(frozen=True)
class FileInfo:
    """An attachment as received: ``type`` is the media type found in its bytes,
    ``size`` in bytes."""

    id: str
    name: str
    type: str
    size: int


#: Sex codes (ISO 5218) and their labels; "0" only where the question allows 回答しない.
SEX = {"1": ("男", "Male"), "2": ("女", "Female"), "0": ("回答しない", "Prefer not to say")}


def empty(value: Any) -> bool:
    """Whether ``value`` counts as not answered (None, blank text, empty list or mapping of blanks)."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list):
        return not value
    if isinstance(value, dict):
        return all(empty(v) for v in value.values())
    return False


def normalise(q: Question, raw: Any, *, today: date, files: Mapping[str, FileInfo]) -> Any:
    """The stored form of ``raw`` for question ``q`` (not a ``group``: see
    :mod:`online_forms.engine`), or raise :class:`AnswerError`. ``today`` (Asia/Tokyo)
    bounds birth dates; ``files`` are the attachments received, by id. An empty
    answer must be handled by the caller (``required``)."""
    check = _CHECKS.get(q.type)
    if check is None:
        raise AnswerError("bad_shape", "この質問には答えられません。 This question cannot be answered directly.")
    return check(q, raw, today, files)


def _text(q: Question, raw: Any, today: date, files: Mapping[str, FileInfo]) -> str:
    value = _string(raw)
    if q.type == "text" and ("\n" in value or "\r" in value):
        raise AnswerError("bad_shape", "改行は入れられません。 This answer must be on one line.")
    limit = q.max_length or (200 if q.type == "text" else 4000)
    if len(value) > limit:
        raise AnswerError("too_long", f"{limit}文字以内で入力してください。 Enter at most {limit} characters.")
    if q.min_length is not None and len(value) < q.min_length:
        raise AnswerError("too_short", f"{q.min_length}文字以上で入力してください。 "
                                       f"Enter at least {q.min_length} characters.")
    if q.pattern is not None and not patterns.fullmatch(q.pattern, value):
        message = q.pattern_message
        raise AnswerError("pattern", f"{message.ja} {message.en or ''}".strip() if message
                          else "入力の形式が正しくありません。 The answer is not in the expected form.")
    return value


def _number(q: Question, raw: Any, today: date, files: Mapping[str, FileInfo]) -> int | float:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise AnswerError("not_a_number", "数字で入力してください。 Enter a number.")
    text = unicodedata.normalize("NFKC", str(raw)).replace(",", "").strip()
    try:
        value = float(text)
    except ValueError:
        raise AnswerError("not_a_number", "数字で入力してください。 Enter a number.") from None
    if not math.isfinite(value):
        raise AnswerError("not_a_number", "数字で入力してください。 Enter a number.")
    if q.integer:
        if not value.is_integer():
            raise AnswerError("not_integer", "整数で入力してください。 Enter a whole number.")
    if q.minimum is not None and value < q.minimum:
        raise AnswerError("too_small", f"{_num(q.minimum)}以上で入力してください。 Enter {_num(q.minimum)} or more.")
    if q.maximum is not None and value > q.maximum:
        raise AnswerError("too_large", f"{_num(q.maximum)}以下で入力してください。 Enter {_num(q.maximum)} or less.")
    return int(value) if q.integer else value


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _date(q: Question, raw: Any, today: date, files: Mapping[str, FileInfo]) -> str:
    text = unicodedata.normalize("NFKC", _string(raw))
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) is None:
            raise ValueError
        value = date.fromisoformat(text)
    except ValueError:
        raise AnswerError("not_a_date", "正しい日付を入力してください（例: 2026-04-01）。 "
                                        "Enter a real date (e.g. 2026-04-01).") from None
    if q.type == "birth_date" and value > today:
        raise AnswerError("in_future", "生年月日が未来の日付です。 The date of birth is in the future.")
    if q.min_date is not None and value < date.fromisoformat(q.min_date):
        raise AnswerError("too_early", f"{q.min_date}以降の日付を入力してください。 Enter {q.min_date} or later.")
    if q.max_date is not None and value > date.fromisoformat(q.max_date):
        raise AnswerError("too_late", f"{q.max_date}以前の日付を入力してください。 Enter {q.max_date} or earlier.")
    return value.isoformat()


def _choice(q: Question, raw: Any, today: date, files: Mapping[str, FileInfo]) -> str:
    if not isinstance(raw, str) or raw not in {o.value for o in q.options}:
        raise AnswerError("not_an_option", "選択肢から選んでください。 Choose one of the options.")
    return raw


def _multi(q: Question, raw: Any, today: date, files: Mapping[str, FileInfo]) -> list[str]:
    values = [o.value for o in q.options]
    if not isinstance(raw, list) or not all(isinstance(v, str) and v in values for v in raw):
        raise AnswerError("not_an_option", "選択肢から選んでください。 Choose from the options.")
    chosen = [v for v in values if v in raw]
    if q.min_items is not None and len(chosen) < q.min_items:
        raise AnswerError("too_few", f"{q.min_items}つ以上選んでください。 Choose at least {q.min_items}.")
    if q.max_items is not None and len(chosen) > q.max_items:
        raise AnswerError("too_many", f"{q.max_items}つまで選んでください。 Choose at most {q.max_items}.")
    return chosen


def _yes_no(q: Question, raw: Any, today: date, files: Mapping[str, FileInfo]) -> bool:
    if isinstance(raw, bool):
        return raw
    if raw in ("yes", "no"):
        return bool(raw == "yes")
    raise AnswerError("not_yes_no", "「はい」か「いいえ」を選んでください。 Choose yes or no.")


def _email(q: Question, raw: Any, today: date, files: Mapping[str, FileInfo]) -> str:
    text = unicodedata.normalize("NFKC", _string(raw))
    try:
        return str(validate_email(text, check_deliverability=False).normalized)
    except EmailNotValidError:
        raise AnswerError("bad_email", "メールアドレスの形式が正しくありません（例: name@example.jp）。 "
                                       "Enter an email address like name@example.jp.") from None


def _phone(q: Question, raw: Any, today: date, files: Mapping[str, FileInfo]) -> str:
    try:
        return str(japanese_phone(_string(raw)))
    except ValueError as err:
        raise AnswerError("bad_phone", str(err)) from None


def _file(q: Question, raw: Any, today: date, files: Mapping[str, FileInfo]) -> dict[str, Any]:
    fid = raw.get("id") if isinstance(raw, dict) else None
    info = files.get(fid) if isinstance(fid, str) else None
    if info is None:
        raise AnswerError("bad_file", "添付ファイルが見つかりません。もう一度添付してください。 "
                                      "The attached file was not found; attach it again.")
    check_file(q, info.type, info.size)
    return {"id": info.id, "name": info.name, "type": info.type, "size": info.size}


def check_file(q: Question, media_type: str, size: int) -> None:
    """Raise :class:`AnswerError` unless a file of ``media_type`` (found in its
    bytes) and ``size`` bytes fits question ``q`` (default: PDF, JPEG, PNG up to 10 MB)."""
    accept = q.accept or ("application/pdf", "image/jpeg", "image/png")
    if media_type not in accept:
        names = "、".join(_FILE_NAMES.get(t, t) for t in accept)
        raise AnswerError("file_type", f"添付できるのは {names} です。 Attach one of: {names}.")
    limit = q.max_bytes or 10 * 1024 * 1024
    if size > limit:
        mb = f"{limit / 1024 / 1024:g}"
        raise AnswerError("file_too_large", f"ファイルは{mb}MBまでです。 The file must be at most {mb} MB.")
    if size == 0:
        raise AnswerError("bad_file", "空のファイルです。 The file is empty.")


_FILE_NAMES = {"application/pdf": "PDF", "image/jpeg": "JPEG", "image/png": "PNG", "image/heic": "HEIC"}


def _name(q: Question, raw: Any, today: date, files: Mapping[str, FileInfo]) -> dict[str, str]:
    parts = _parts(raw, ("family", "given", "family_kana", "given_kana"))
    out = {"family": _string(parts["family"]), "given": _string(parts["given"]), "family_kana": "", "given_kana": ""}
    if not out["family"]:
        raise AnswerError("required", "氏（姓）を入力してください。 Enter the family name.")
    for key in ("family", "given"):
        if len(out[key]) > 50 or "\n" in out[key]:
            raise AnswerError("too_long", "氏名は各50文字以内で入力してください。 "
                                          "Each name part is at most 50 characters.")
    if q.kana:
        for key in ("family_kana", "given_kana"):
            text = _string(parts[key])
            if not text and key == "family_kana":
                raise AnswerError("required", "フリガナ（セイ）を入力してください。 "
                                              "Enter the reading of the family name.")
            if text:
                try:
                    out[key] = furigana(text)
                except ValueError as err:
                    raise AnswerError("bad_kana", str(err)) from None
    return out


def _address(q: Question, raw: Any, today: date, files: Mapping[str, FileInfo]) -> dict[str, str]:
    parts = _parts(raw, ("postal_code", "address", "building"))
    code = unicodedata.normalize("NFKC", _string(parts["postal_code"])).replace("-", "").replace("ー", "")
    if code and re.fullmatch(r"[0-9]{7}", code) is None:
        raise AnswerError("bad_postal_code", "郵便番号は7桁の数字で入力してください（例: 100-0001）。 "
                                             "Enter a 7-digit postal code (e.g. 100-0001).")
    address, building = _string(parts["address"]), _string(parts["building"])
    if not address:
        raise AnswerError("required", "住所を入力してください。 Enter the address.")
    if len(address) > 200 or len(building) > 100:
        raise AnswerError("too_long", "住所が長すぎます。 The address is too long.")
    return {"postal_code": code, "address": address, "building": building}


def _sex(q: Question, raw: Any, today: date, files: Mapping[str, FileInfo]) -> str:
    allowed = ("1", "2", "0") if q.allow_unanswered else ("1", "2")
    if raw not in allowed:
        raise AnswerError("not_an_option", "選択肢から選んでください。 Choose one of the options.")
    return str(raw)


def _string(raw: Any) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise AnswerError("bad_shape", "文字で入力してください。 Enter text.")
    text = unicodedata.normalize("NFC", raw).strip()
    if any(unicodedata.category(c) in ("Cc", "Cf") and c not in "\n\t\u200d" for c in text):
        raise AnswerError("bad_shape", "使えない制御文字が含まれています。 The answer holds control characters.")
    return text


def _parts(raw: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(raw, dict) or set(raw) - set(keys):
        raise AnswerError("bad_shape", "回答の形式が正しくありません。 The answer is not in the expected form.")
    return {k: raw.get(k) for k in keys}


_CHECKS = {
    "text": _text, "long_text": _text, "number": _number, "date": _date, "birth_date": _date,
    "choice": _choice, "multi_choice": _multi, "yes_no": _yes_no, "email": _email, "phone": _phone,
    "file": _file, "name": _name, "address": _address, "sex": _sex,
}
