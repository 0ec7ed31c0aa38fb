"""The office configuration file (TOML): layout and calendar, validated on load.

Every error names the file, the key and what is wrong, e.g.
``office.toml: queues[2].number_range: first must not exceed last``. The
built-in demo office (:data:`DEMO_OFFICE`) is Bunkyo's floor from FLOOR.md
section 1 / seed 004 section 8.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hardware.ticket import TicketFontMissing, TicketFonts, missing_glyphs

from .core.calendar import ExtraOpening, Hours, OfficeCalendar
from .core.layout import CallPolicy, Counter, Flow, KioskMenu, Layout, Queue, Screens, Section, Text

DEMO_OFFICE = Path(__file__).with_name("demo_office.toml")
Id = Annotated[str, Field(pattern=r"^[a-z0-9_]{1,32}$")]
#: The longest label in characters: Japanese, Chinese and Korean (two columns a character on screens and
#: tickets), and English and やさしい日本語 (one column; spaces between words). The demo's longest are 20 and 51.
#: A ticket, a kiosk button or a display row has room for about this much (issue 13, point 13).
CJK_LABEL_MAX = 40
LATIN_LABEL_MAX = 80
#: A time of day in the calendar ("08:30") and a month-day ("01-03"), bounded so an error can quote them.
Clock = Annotated[str, Field(max_length=8)]
MonthDay = Annotated[str, Field(max_length=5)]


def core_default(cls: type[Any], name: str) -> Any:
    """The default of field ``name`` of the core dataclass ``cls``.

    Each default of the office file is declared once, in the core
    (:mod:`server.core.layout`, :mod:`server.core.calendar`); the file's models
    below take theirs from there and add only the bounds a file may set.
    Raises ``KeyError`` for a field without a default.
    """
    for f in dataclasses.fields(cls):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
    raise KeyError(f"{cls.__name__}.{name} has no default")


class ConfigError(ValueError):
    """A configuration file that cannot be used: ``str()`` is
    ``"<file>: <key>: <what is wrong>"``."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TextModel(_Model):
    """A label in Japanese and English; optionally やさしい日本語 (``easy``),
    simplified Chinese (``zh``) and Korean (``ko``) for the kiosk."""

    ja: str = Field(min_length=1, max_length=CJK_LABEL_MAX)
    en: str = Field(min_length=1, max_length=LATIN_LABEL_MAX)
    easy: str = Field(core_default(Text, "easy"), max_length=LATIN_LABEL_MAX)
    zh: str = Field(core_default(Text, "zh"), max_length=CJK_LABEL_MAX)
    ko: str = Field(core_default(Text, "ko"), max_length=CJK_LABEL_MAX)

    def text(self) -> Text:
        """The core's :class:`Text`."""
        return Text(self.ja, self.en, self.easy, self.zh, self.ko)


class ScreensModel(_Model):
    """[screens]: timings of the kiosk and displays (seconds)."""

    kiosk_return_s: float = Field(core_default(Screens, "kiosk_return_s"), ge=3, le=120)
    call_highlight_s: float = Field(core_default(Screens, "call_highlight_s"), ge=1, le=120)
    recent_calls: int = Field(core_default(Screens, "recent_calls"), ge=1, le=20)
    staff_rotate_s: float = Field(core_default(Screens, "staff_rotate_s"), ge=3, le=600)
    wait_alert_s: float = Field(core_default(Screens, "wait_alert_s"), ge=1, le=86400)


class KioskMenuModel(_Model):
    """[[kiosk_menus]]: the procedures a kiosk offers (open it as /kiosk/?menu=<id>)."""

    id: Id
    name: TextModel
    queues: list[Id] = Field(min_length=1, max_length=12)


class PrinterModel(_Model):
    """[[printers]]: one ticket printer (issue 4). ``connection = "network"``: a
    raw TCP ESC/POS printer (``host``, ``port``, usually 9100) driven by the
    server; ``"agent"``: a USB printer on a kiosk PC, driven by
    ``madoguchi printer-agent`` there. Which kiosk prints on which printer is
    set per device (``POST /api/devices`` / ``PUT /api/devices/{id}/printer``)."""

    id: Id
    name: TextModel
    connection: Literal["network", "agent"]
    host: str | None = Field(None, min_length=1, max_length=253)
    port: int = Field(9100, ge=1, le=65535)
    paper_mm: Literal[58, 80] = 80

    @field_validator("host")
    @classmethod
    def _host(cls, v: str | None) -> str | None:
        if v is not None and (any(ch.isspace() or ch in "/@" for ch in v) or v.count(":") == 1):
            raise ValueError("host must be a host name or an IP address, without scheme or port")
        return v


class PrintingModel(_Model):
    """[printing]: how print jobs are retried (seconds)."""

    expire_s: float = Field(300.0, ge=10, le=86400)
    poll_s: float = Field(30.0, ge=1, le=3600)
    retry_max_s: float = Field(10.0, ge=0.1, le=600)
    timeout_s: float = Field(5.0, ge=0.2, le=60)


class StatsModel(_Model):
    """[stats]: the target wait for "share served within target" (seconds),
    and the nightly export: the folder it writes to (none: no nightly export)
    and the Asia/Tokyo time it runs."""

    target_wait_s: float = Field(1200.0, gt=0, le=86400)
    nightly_dir: str | None = Field(None, min_length=1, max_length=1024)
    nightly_at: str = Field("00:30", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class OfficeModel(_Model):
    """[office]: id, name and call policy."""

    id: Id
    name: TextModel
    policy: CallPolicy = core_default(Layout, "policy")
    interleave_n: int = Field(core_default(Layout, "interleave_n"), ge=1, le=100)
    priority_boost_s: float = Field(core_default(Layout, "priority_boost_s"), ge=0, le=86400)
    reinstate_window_s: float = Field(core_default(Layout, "reinstate_window_s"), ge=0, le=86400)


class FlowModel(_Model):
    """[[flows]]: a guidance-display column (colour and symbol)."""

    id: Id
    name: TextModel
    colour: str = Field(pattern=r"^#[0-9a-fA-F]{6}$")
    symbol: str = Field(min_length=1, max_length=2)
    handover: bool = core_default(Flow, "handover")


class SectionModel(_Model):
    """[[sections]]: a section (係)."""

    id: Id
    name: TextModel


class QueueModel(_Model):
    """[[queues]]: a procedure queue (業種) and its number range."""

    id: Id
    name: TextModel
    flow: Id
    section: Id
    colour: str = Field(pattern=r"^#[0-9a-fA-F]{6}$")
    symbol: str = Field(min_length=1, max_length=2)
    prefix: str = Field(core_default(Queue, "prefix"), pattern=r"^[A-Z]{0,2}$")
    number_range: tuple[int, int] = core_default(Queue, "number_range")
    issuable: bool = core_default(Queue, "issuable")
    handover_queue: Id | None = core_default(Queue, "handover_queue")
    mean_service_s: float = Field(core_default(Queue, "mean_service_s"), gt=0, le=86400)

    @field_validator("number_range")
    @classmethod
    def _range(cls, v: tuple[int, int]) -> tuple[int, int]:
        if v[0] < 0 or v[1] > 99999:
            raise ValueError("numbers must be between 0 and 99999")
        if v[0] > v[1]:
            raise ValueError("first must not exceed last")
        return v


class CounterModel(_Model):
    """[[counters]]: counters first..last of a section and the queues they serve."""

    first: int = Field(ge=1, le=999)
    last: int | None = Field(None, ge=1, le=999)
    section: Id
    queues: list[Id] = Field(min_length=1, max_length=200)


class ExtraModel(_Model):
    """[[calendar.extra]]: a recurring extra opening."""

    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    nth: int = Field(ge=-1, le=5)
    months: list[int] = Field([], max_length=12)
    hours: tuple[Clock, Clock]
    queues: list[Id] | None = Field(core_default(Hours, "queues"), max_length=200)
    note: str = Field(core_default(Hours, "note"), max_length=LATIN_LABEL_MAX)


class CalendarModel(_Model):
    """[calendar]: weekday hours, closures and extra openings."""

    national_holidays: bool = core_default(OfficeCalendar, "national_holidays")
    closed_month_days: list[MonthDay] = Field([], max_length=366)
    closed_dates: list[date] = Field([], max_length=2000)
    extra_dates: dict[Annotated[str, Field(max_length=10)], tuple[Clock, Clock]] = Field({}, max_length=2000)
    weekdays: dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], tuple[Clock, Clock]]
    extra: list[ExtraModel] = Field([], max_length=100)


class OfficeFile(_Model):
    """The whole office file."""

    office: OfficeModel
    flows: list[FlowModel] = Field(min_length=1, max_length=50)
    sections: list[SectionModel] = Field(min_length=1, max_length=100)
    queues: list[QueueModel] = Field(min_length=1, max_length=200)
    counters: list[CounterModel] = Field(min_length=1, max_length=999)
    calendar: CalendarModel
    screens: ScreensModel = ScreensModel()
    kiosk_menus: list[KioskMenuModel] = Field([], max_length=50)
    printing: PrintingModel = PrintingModel()
    printers: list[PrinterModel] = Field([], max_length=200)
    stats: StatsModel = StatsModel()


class Printing(BaseModel):
    """The printing part of an office file: ``settings`` and ``printers`` by id."""

    model_config = ConfigDict(frozen=True)
    settings: PrintingModel = PrintingModel()
    printers: dict[str, PrinterModel] = {}


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top)"


def _time(value: str, where: str) -> time:
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{where}: {value!r} is not a time like 08:30") from None


def _hours(pair: tuple[str, str], where: str, queues: list[str] | None = None, note: str = "") -> Hours:
    opens, closes = _time(pair[0], where), _time(pair[1], where)
    if opens >= closes:
        raise ConfigError(f"{where}: opening {pair[0]} is not before closing {pair[1]}")
    return Hours(opens, closes, frozenset(queues) if queues is not None else None, note)


@dataclass(frozen=True, slots=True)
class Office:
    """Everything an office file sets, read from one parse of the file:
    ``layout`` and ``calendar`` for the core, ``printing`` and ``stats`` for
    the print service and the statistics."""

    layout: Layout
    calendar: OfficeCalendar
    printing: Printing
    stats: StatsModel


def load_office(path: Path | str, *, rehearsal: bool = False) -> Office:
    """Read, validate and build a whole office file, parsing it once.

    ``rehearsal`` makes the calendar not enforced (every moment open), for
    training and rehearsals (seed 004 10(4)). Raises :class:`ConfigError`
    naming the file, key and problem (e.g. a network printer without ``host``).
    """
    model, name = _read(path)
    try:
        layout, calendar = _build(model, rehearsal)
        printing = _printing(model)
    except ConfigError as exc:
        raise ConfigError(f"{name}: {exc}") from None
    return Office(layout, calendar, printing, model.stats)


def ticket_warnings(office: Office, fonts: TicketFonts, name: str = "office.toml") -> list[str]:
    """Warnings (not errors) for labels printed on paper tickets (the office's
    Japanese name, each queue's Japanese and English names) holding characters
    the ticket fonts have no glyph for: they would print as boxes (emoji, rare
    kanji). ``name``: the file's name for the messages. One warning when no
    ticket font is installed to check against."""
    try:
        labels = [("office.name.ja", office.layout.office_name.ja)]
        for i, queue in enumerate(office.layout.queues.values()):
            labels += [(f"queues[{i}].name.ja", queue.name.ja), (f"queues[{i}].name.en", queue.name.en)]
        out = []
        for key, label in labels:
            missing = missing_glyphs(label, fonts)
            if missing:
                shown = ", ".join(f"{ch!r} (U+{ord(ch):04X})" for ch in missing[:5])
                more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
                out.append(f"{name}: {key}: the ticket font cannot draw {shown}{more}; "
                           "they would print as boxes on tickets")
        return out
    except TicketFontMissing as exc:
        return [f"cannot check the characters of ticket labels: {exc}"]


def load(path: Path | str, *, rehearsal: bool = False) -> tuple[Layout, OfficeCalendar]:
    """``(layout, calendar)`` of an office file (see :func:`load_office`).
    Raises :class:`ConfigError`."""
    office = load_office(path, rehearsal=rehearsal)
    return office.layout, office.calendar


def _printing(model: OfficeFile) -> Printing:
    _unique([p.id for p in model.printers], "printers")
    for i, p in enumerate(model.printers):
        if p.connection == "network" and p.host is None:
            raise ConfigError(f"printers[{i}].host: a network printer needs host (its IP address or name)")
        if p.connection == "agent" and p.host is not None:
            raise ConfigError(f"printers[{i}].host: an agent printer is reached through its agent; remove host")
    return Printing(settings=model.printing, printers={p.id: p for p in model.printers})


def _read(path: Path | str) -> tuple[OfficeFile, str]:
    path = Path(path)
    name = path.name
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{name}: not valid TOML: {exc}") from None
    try:
        model = OfficeFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"{name}: {_loc(first['loc'])}: {first['msg']}") from None
    return model, name


def _unique(items: list[str], where: str) -> None:
    seen: set[str] = set()
    for i, item in enumerate(items):
        if item in seen:
            raise ConfigError(f"{where}[{i}].id: {item!r} appears twice")
        seen.add(item)


def _build(m: OfficeFile, rehearsal: bool) -> tuple[Layout, OfficeCalendar]:
    _unique([f.id for f in m.flows], "flows")
    _unique([s.id for s in m.sections], "sections")
    _unique([q.id for q in m.queues], "queues")
    flows = {f.id: Flow(f.id, f.name.text(), f.colour, f.symbol, f.handover) for f in m.flows}
    sections = {s.id: Section(s.id, s.name.text()) for s in m.sections}
    queue_ids = {q.id for q in m.queues}
    queues: dict[str, Queue] = {}
    for i, q in enumerate(m.queues):
        if q.flow not in flows:
            raise ConfigError(f"queues[{i}].flow: no flow {q.flow!r}")
        if q.section not in sections:
            raise ConfigError(f"queues[{i}].section: no section {q.section!r}")
        if q.handover_queue is not None and q.handover_queue not in queue_ids:
            raise ConfigError(f"queues[{i}].handover_queue: no queue {q.handover_queue!r}")
        queues[q.id] = Queue(
            q.id, q.name.text(), q.flow, q.section, q.colour, q.symbol, q.prefix,
            q.number_range, q.issuable, q.handover_queue, q.mean_service_s,
        )
    issuable = [q for q in m.queues if q.issuable]
    for i, a in enumerate(issuable):
        for b in issuable[i + 1:]:
            overlap = a.number_range[0] <= b.number_range[1] and b.number_range[0] <= a.number_range[1]
            if a.prefix == b.prefix and overlap:
                raise ConfigError(
                    f"queues: {a.id!r} and {b.id!r} have the same prefix and overlapping number ranges, "
                    "so two tickets could show the same number"
                )
    counters: dict[str, Counter] = {}
    for i, cm in enumerate(m.counters):
        last = cm.last if cm.last is not None else cm.first
        if last < cm.first:
            raise ConfigError(f"counters[{i}].last: {last} is before first {cm.first}")
        if cm.section not in sections:
            raise ConfigError(f"counters[{i}].section: no section {cm.section!r}")
        for qid in cm.queues:
            if qid not in queues:
                raise ConfigError(f"counters[{i}].queues: no queue {qid!r}")
        for number in range(cm.first, last + 1):
            cid = str(number)
            if cid in counters:
                raise ConfigError(f"counters[{i}]: counter {number} is defined twice")
            counters[cid] = Counter(cid, number, cm.section, tuple(cm.queues))
    _unique([k.id for k in m.kiosk_menus], "kiosk_menus")
    menus: dict[str, KioskMenu] = {}
    for i, k in enumerate(m.kiosk_menus):
        for qid in k.queues:
            if qid not in queues:
                raise ConfigError(f"kiosk_menus[{i}].queues: no queue {qid!r}")
            if not queues[qid].issuable:
                raise ConfigError(f"kiosk_menus[{i}].queues: queue {qid!r} does not issue tickets")
        menus[k.id] = KioskMenu(k.id, k.name.text(), tuple(k.queues))
    layout = Layout(
        m.office.id, m.office.name.text(), flows, sections, queues, counters,
        m.office.policy, m.office.interleave_n, m.office.priority_boost_s, m.office.reinstate_window_s,
        Screens(**m.screens.model_dump()), menus,
    )
    return layout, _calendar(m.calendar, queue_ids, rehearsal)


def _calendar(cal: CalendarModel, queue_ids: set[str], rehearsal: bool) -> OfficeCalendar:
    weekday_hours: dict[str, Hours] = {d: _hours(h, f"calendar.weekdays.{d}") for d, h in cal.weekdays.items()}
    closed: set[tuple[int, int]] = set()
    for i, md in enumerate(cal.closed_month_days):
        try:
            month, day = (int(x) for x in md.split("-"))
            date(2000, month, day)
        except ValueError:
            raise ConfigError(f"calendar.closed_month_days[{i}]: {md!r} is not MM-DD") from None
        closed.add((month, day))
    extra = []
    for i, e in enumerate(cal.extra):
        where = f"calendar.extra[{i}]"
        if e.nth == 0:
            raise ConfigError(f"{where}.nth: use 1-5, or -1 for the last")
        for month in e.months:
            if not 1 <= month <= 12:
                raise ConfigError(f"{where}.months: {month} is not a month")
        for q in e.queues or []:
            if q not in queue_ids:
                raise ConfigError(f"{where}.queues: no queue {q!r}")
        hours = _hours(e.hours, f"{where}.hours", e.queues, e.note)
        extra.append(ExtraOpening(e.weekday, e.nth, hours, frozenset(e.months)))
    extra_dates: dict[date, Hours] = {}
    for key, pair in cal.extra_dates.items():
        try:
            extra_day = date.fromisoformat(key)
        except ValueError:
            raise ConfigError(f"calendar.extra_dates: {key!r} is not a date like 2026-12-26") from None
        extra_dates[extra_day] = _hours(pair, f"calendar.extra_dates.{key}")
    return OfficeCalendar(
        weekday_hours, frozenset(closed), cal.national_holidays, tuple(extra), extra_dates,
        frozenset(cal.closed_dates), enforce=not rehearsal,
    )
