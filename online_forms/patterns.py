"""Patterns staff write on text questions, matched with RE2 (google-re2), which
runs in time linear in the answer: a pattern such as ``([0-9A-Za-z]+-?)+`` that
makes Python's backtracking ``re`` take minutes on a 30-character answer cannot
stall the server here (issue 14, point 7; OWASP "Regular expression Denial of
Service"). RE2 has no back-references or look-around; a pattern using them is
refused when the form is saved.
"""

from __future__ import annotations

import functools
from typing import Any

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False


@functools.lru_cache(maxsize=512)
def compiled(pattern: str) -> Any:
    """``pattern`` compiled by RE2. Raises ValueError naming the problem."""
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as err:
        detail = err.args[0].decode() if err.args and isinstance(err.args[0], bytes) else str(err)
        raise ValueError(f"pattern cannot be used ({detail}); back-references and look-around are not supported") \
            from None


def fullmatch(pattern: str, text: str) -> bool:
    """Whether the whole of ``text`` matches ``pattern`` (RE2)."""
    return compiled(pattern).fullmatch(text) is not None


def search(pattern: str, text: str) -> bool:
    """Whether ``pattern`` matches somewhere in ``text`` (RE2; JSON Schema's ``pattern`` semantics)."""
    return compiled(pattern).search(text) is not None
