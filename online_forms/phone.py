"""Japanese phone numbers, checked and written in the national format with hyphens.

The numbering plan is Google's libphonenumber (the ``phonenumbers`` package, region ``"JP"``),
which follows the 総務省 電気通信番号計画 and places the hyphens by the area code's length
(03-1234-5678, 0466-12-3456, 090-1234-5678, 0120-123-456).
"""

from __future__ import annotations

import unicodedata

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

#: The kinds of number a citizen can be reached on: 固定電話, 携帯電話 (070/080/090), IP電話 (050) and
#: フリーダイヤル (0120/0800). Pagers and M2M (020), premium rate (0990) and ナビダイヤル (0570) are
#: refused: they are no one's contact number.
ACCEPTED_TYPES = frozenset({
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.MOBILE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE,
    PhoneNumberType.VOIP,
    PhoneNumberType.TOLL_FREE,
})

_INVALID = ("電話番号の形式が正しくありません。市外局番から入力してください（例：03-1234-5678、090-1234-5678）。 "
            "Enter a Japanese phone number with its area code (e.g. 03-1234-5678 or 090-1234-5678).")
_NOT_JAPANESE = "日本国内の電話番号を入力してください。 Enter a Japanese phone number."
_NOT_CONTACT = ("固定電話・携帯電話・IP電話（050）・フリーダイヤルの番号を入力してください。 "
                "Enter a landline, mobile, 050 IP or toll-free number.")


class PhoneRejected(ValueError):
    """A phone answer that is not a Japanese contact number; ``str(err)`` is the message to show,
    Japanese first, with English."""


def japanese_phone(text: str) -> str:
    """``text`` as a Japanese number in the national format: ``"０９０１２３４５６７８"`` →
    ``"090-1234-5678"``, ``"+81 3 1234 5678"`` → ``"03-1234-5678"``.

    Full-width digits and hyphens, the long-vowel mark typed for a hyphen (03ー1234ー5678), brackets
    round the area code and spaces are accepted. Raises :class:`PhoneRejected` (a ``ValueError``)
    for letters of any script (libphonenumber would read 0120-ABC-DEF as a keypad word and skip
    words such as 「電話」), an extension, a number
    libphonenumber does not hold valid, a number outside Japan, or one of a kind not in
    :data:`ACCEPTED_TYPES`.
    """
    text = unicodedata.normalize("NFKC", text).strip()
    if not text or any(ch.isalpha() and ch != "ー" for ch in text):   # ー counts as a letter (Lm)
        raise PhoneRejected(_INVALID)
    try:
        number = phonenumbers.parse(text, "JP")
    except phonenumbers.NumberParseException:
        raise PhoneRejected(_INVALID) from None
    if number.extension:
        raise PhoneRejected(_INVALID)
    if number.country_code != 81:
        raise PhoneRejected(_NOT_JAPANESE)
    if not phonenumbers.is_valid_number(number):
        raise PhoneRejected(_INVALID)
    if phonenumbers.number_type(number) not in ACCEPTED_TYPES:
        raise PhoneRejected(_NOT_CONTACT)
    return phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
