"""The office layout: flows, sections (係), queues (業種) and counters (窓口).

A layout is immutable once loaded; it is built by :mod:`server.config` from the
office TOML file (rules from seed 004 section 8 and FLOOR.md section 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class CallPolicy(StrEnum):
    """How a counter chooses the next ticket among the queues it serves.

    - ``strict``: the first non-empty queue in the counter's priority order.
    - ``oldest``: the ticket that has waited longest across all its queues.
    - ``interleave``: N tickets from the counter's first queue, then one from
      the others (oldest first), so secondary queues never starve.
    """

    STRICT = "strict"
    OLDEST = "oldest"
    INTERLEAVE = "interleave"


@dataclass(frozen=True, slots=True)
class Text:
    """A label in Japanese with its English form, and optionally in やさしい日本語
    (``easy``), simplified Chinese (``zh``) and Korean (``ko``) for the kiosk
    (issue 3: the kiosk's five languages). Empty means "fall back to ja/en"."""

    ja: str
    en: str
    easy: str = ""
    zh: str = ""
    ko: str = ""

    def as_dict(self) -> dict[str, str]:
        """``{"ja": …, "en": …}`` plus the other languages that are set."""
        out = {"ja": self.ja, "en": self.en}
        for lang in ("easy", "zh", "ko"):
            value = getattr(self, lang)
            if value:
                out[lang] = value
        return out


@dataclass(frozen=True, slots=True)
class Flow:
    """A waiting stage shown as one column on the guidance display (案内表示機).

    ``colour`` is a CSS colour and ``symbol`` a glyph (●, ▲, ■ …) so that colour
    is never the only cue (JIS X 8341-3 / WCAG 1.4.1). ``handover`` marks the
    hand-over stage (証明の交付).
    """

    id: str
    name: Text
    colour: str
    symbol: str
    handover: bool = False


@dataclass(frozen=True, slots=True)
class Section:
    """A section (係) of the office, e.g. 証明係."""

    id: str
    name: Text


@dataclass(frozen=True, slots=True)
class Queue:
    """A procedure queue (業種) that tickets wait in.

    ``number_range`` is inclusive ``(first, last)``; ``prefix`` is prepended to
    the number on screen and paper. ``issuable`` is false for a queue that only
    receives tickets (the hand-over queue). ``handover_queue`` is where a ticket
    goes after it is finished here, if the procedure ends with a hand-over.
    ``mean_service_s`` is the configured mean service time in seconds, used by
    the wait estimate until real service times are observed.
    """

    id: str
    name: Text
    flow: str
    section: str
    colour: str
    symbol: str
    prefix: str = ""
    number_range: tuple[int, int] = (1, 999)
    issuable: bool = True
    handover_queue: str | None = None
    mean_service_s: float = 300.0

    def display_number(self, number: int) -> str:
        """The number as shown on screens and tickets, e.g. ``"A012"`` or ``"1012"``."""
        return f"{self.prefix}{number}"


@dataclass(frozen=True, slots=True)
class Counter:
    """A counter (窓口): its number, section and the queues it serves in priority order."""

    id: str
    number: int
    section: str
    queues: tuple[str, ...]
    name: Text | None = None

    def label(self) -> Text:
        """``"5番窓口"`` / ``"Counter 5"`` unless a name is configured."""
        return self.name or Text(f"{self.number}番窓口", f"Counter {self.number}")


@dataclass(frozen=True, slots=True)
class Screens:
    """Settings of the floor's screens (seed 004 8(1)-(4)); seconds.

    ``kiosk_return_s``: the kiosk goes back to its start this long after showing
    an issued ticket. ``call_highlight_s``: a new call stays highlighted (with a
    chime) on the guidance display. ``recent_calls``: how many calls it lists.
    ``staff_rotate_s``: how long each view of the staff display (職員用周知機)
    shows before the next (8(4): adjustable). ``wait_alert_s``: a queue whose
    longest wait passes this raises an alert on the staff display.
    """

    kiosk_return_s: float = 10.0
    call_highlight_s: float = 8.0
    recent_calls: int = 6
    staff_rotate_s: float = 12.0
    wait_alert_s: float = 1800.0


@dataclass(frozen=True, slots=True)
class KioskMenu:
    """The procedures one kiosk offers, in button order (seed 004 8(1)1:
    kiosks are set up per procedure, every kiosk can do everything)."""

    id: str
    name: Text
    queues: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Layout:
    """The whole office: lookups by id plus the call policy.

    ``interleave_n`` is N for :attr:`CallPolicy.INTERLEAVE`. ``priority_boost_s``
    is how many seconds a priority ticket (assistance needed) is treated as having
    waited already: it jumps ahead of later arrivals but never ahead of a ticket
    that has waited longer than the boost, so priority never starves others.
    ``reinstate_window_s`` is how long after a no-show (不在) the visitor can
    still be reinstated; until then the ticket keeps its number.
    """

    office_id: str
    office_name: Text
    flows: dict[str, Flow]
    sections: dict[str, Section]
    queues: dict[str, Queue]
    counters: dict[str, Counter]
    policy: CallPolicy = CallPolicy.OLDEST
    interleave_n: int = 3
    priority_boost_s: float = 600.0
    reinstate_window_s: float = 3600.0
    screens: Screens = field(default_factory=Screens)
    kiosk_menus: dict[str, KioskMenu] = field(default_factory=dict)
    counters_by_queue: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        by_queue: dict[str, list[str]] = {q: [] for q in self.queues}
        for counter in self.counters.values():
            for q in counter.queues:
                by_queue[q].append(counter.id)
        object.__setattr__(self, "counters_by_queue", {q: tuple(c) for q, c in by_queue.items()})
