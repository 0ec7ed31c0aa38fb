"""Domain errors raised by the queue core."""

from __future__ import annotations


class DomainError(Exception):
    """An illegal command for the current state of the floor.

    ``code`` is a stable machine-readable identifier (listed in
    :mod:`server.errors`), ``message`` a sentence for people. Raising it never
    leaves the floor changed: the core decides before it mutates.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
