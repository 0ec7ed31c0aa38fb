"""Ticket numbers: per queue (series) per business day, with wrap-around.

A series counts up from the first number of its range; past the last it wraps
to the first, skipping every number still held by an active ticket (seed 004
8(1): the number on the ticket is what the visitor is called by, so two active
tickets must never share one).
"""

from __future__ import annotations

from .errors import DomainError


def next_number(last: int | None, first: int, final: int, active: set[int]) -> int:
    """The number after ``last`` in the inclusive range ``first..final`` that no
    active ticket holds.

    ``last`` is ``None`` at the start of a business day. Raises
    :class:`DomainError` ``numbers_exhausted`` when every number is active.
    """
    size = final - first + 1
    candidate = first if last is None else last + 1
    for _ in range(size):
        if candidate > final:
            candidate = first
        if candidate not in active:
            return candidate
        candidate += 1
    raise DomainError("numbers_exhausted", f"every number {first}-{final} is in use")
