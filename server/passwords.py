"""Password and display-name rules (NIST SP 800-63B-4, section 3.1.1.2).

The password is the only factor here, so a new password must have at least
:data:`MIN_LENGTH` characters (code points after NFKC normalisation). No
composition rules (no "a digit and a symbol"). Refused instead:

- control characters (Unicode category ``Cc``: NUL, tabs, new lines, …);
- passwords on a blocklist: the 30,000 most common passwords of the
  ``zxcvbn`` library's frequency lists (Dropbox's zxcvbn, taken from leaked
  password corpora), matched whole, and anything ``zxcvbn`` rates as easy to
  guess (score below :data:`MIN_SCORE`: repeats such as fifteen spaces,
  sequences, keyboard walks, dictionary words);
- context words: the user name, the display name, "madoguchi" and the
  office's name (anywhere in the password, ignoring case).

Passwords are NFKC-normalised before hashing and before verifying
(:func:`normalise`), so the same password typed as NFC, NFD or in full-width
forms is the same password. Messages are Japanese first, with English.
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

MIN_LENGTH = 15
MAX_LENGTH = 200
#: zxcvbn's score, 0 (too guessable) to 4; below this a password is refused.
MIN_SCORE = 3
#: zxcvbn's running time grows with the length; it rates this many characters.
_RATED_CHARS = 64
#: Always context words (the product's name).
SERVICE_WORDS = ("madoguchi", "窓口")
#: Bidirectional embeddings, overrides and isolates (U+202A–202E, U+2066–2069).
BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))


class PasswordRejected(ValueError):
    """A password or display name breaks a rule; ``str(err)`` is the message
    for people (Japanese, then English) and ``reason`` a short code:
    ``too_short``, ``too_long``, ``control_character``, ``common``,
    ``guessable``, ``context``, ``bidi_control``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def normalise(password: str) -> str:
    """The password as hashed and verified: Unicode NFKC."""
    return unicodedata.normalize("NFKC", password)


def office_words(office_id: str, name_ja: str, name_en: str) -> tuple[str, ...]:
    """Context words from the office file: its id, its Japanese name and each of its
    space-separated parts, its English name and the part before the first comma."""
    return tuple(dict.fromkeys((office_id, name_ja, *name_ja.split(), name_en, name_en.split(",")[0])))


def generate() -> str:
    """A fresh random password (20 URL-safe characters, 120 bits) that passes :func:`check`."""
    return secrets.token_urlsafe(15)


@lru_cache(maxsize=1)
def _common() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def _score(password: str, context: list[str]) -> int:
    from zxcvbn import zxcvbn

    return int(zxcvbn(password[:_RATED_CHARS], user_inputs=context)["score"])


def check(password: str, context: Iterable[str | None] = ()) -> str:
    """Check a new password; returns its NFKC form (what to hash).

    ``context`` holds words the password must not contain (user name, display
    name, office name; :data:`SERVICE_WORDS` are always added; words shorter
    than 3 characters are ignored). Raises :class:`PasswordRejected`.
    """
    text = normalise(password)
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise PasswordRejected(
            "control_character",
            "パスワードに制御文字（改行・タブ・NUL など）は使えません。"
            " Passwords cannot contain control characters (new lines, tabs, NUL, ...).",
        )
    if len(text) < MIN_LENGTH:
        raise PasswordRejected(
            "too_short",
            f"パスワードは{MIN_LENGTH}文字以上にしてください（文を使うと覚えやすくなります）。"
            f" Use at least {MIN_LENGTH} characters (a phrase is easy to remember).",
        )
    if len(text) > MAX_LENGTH:
        raise PasswordRejected(
            "too_long",
            f"パスワードは{MAX_LENGTH}文字以内にしてください。 Use at most {MAX_LENGTH} characters.",
        )
    words = [normalise(w).casefold() for w in (*SERVICE_WORDS, *context) if w]
    words = [w for w in words if len(w.strip()) >= 3]
    folded = text.casefold()
    if any(w in folded for w in words):
        raise PasswordRejected(
            "context",
            "パスワードに利用者名・表示名・庁舎名・「madoguchi」を含めないでください。"
            " A password cannot contain the user name, display name, office name or \"madoguchi\".",
        )
    if folded in _common() or text.strip() == "":
        raise PasswordRejected(
            "common",
            "よく使われるパスワードの一覧にあるため使えません。 This password is on a list of common passwords.",
        )
    if _score(text, words) < MIN_SCORE:
        raise PasswordRejected(
            "guessable",
            "推測されやすいパスワードです（繰り返し・連続した文字・よくある単語など）。別の語を組み合わせてください。"
            " This password is easy to guess (repeats, sequences, common words); combine other words.",
        )
    return text


def check_display_name(name: str) -> str:
    """Check a display name; returns it unchanged. Raises :class:`PasswordRejected`
    for control characters (``Cc``) or bidirectional controls (:data:`BIDI_CONTROLS`),
    which could make a name read differently on screens and in the audit log."""
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise PasswordRejected(
            "control_character",
            "表示名に制御文字（改行・タブ・NUL など）は使えません。"
            " A display name cannot contain control characters (new lines, tabs, NUL, ...).",
        )
    if any(ch in BIDI_CONTROLS for ch in name):
        raise PasswordRejected(
            "bidi_control",
            "表示名に文字の向きを変える制御文字（U+202A–202E, U+2066–2069）は使えません。"
            " A display name cannot contain bidirectional controls (U+202A-202E, U+2066-2069).",
        )
    return name
