"""What the statistics read of an office layout, as protocols (no Polars, no server import).

``server.core.layout.Layout`` has this shape; the server passes its layout in,
so the statistics never import the server (the server imports them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class _Name(Protocol):
    @property
    def ja(self) -> str: ...


class _Queue(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> _Name: ...
    @property
    def flow(self) -> str: ...
    @property
    def section(self) -> str: ...


class _Flow(Protocol):
    @property
    def handover(self) -> bool: ...


class _Section(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> _Name: ...


class _Counter(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def number(self) -> int: ...


class OfficeLayout(Protocol):
    """What the statistics read of an office layout (``server.core.layout.Layout``
    has it; the statistics do not import the server, which passes its layout in)."""

    @property
    def flows(self) -> Mapping[str, _Flow]: ...
    @property
    def sections(self) -> Mapping[str, _Section]: ...
    @property
    def queues(self) -> Mapping[str, _Queue]: ...
    @property
    def counters(self) -> Mapping[str, _Counter]: ...
