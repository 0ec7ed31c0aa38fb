"""Commands: what kiosks, clerks and supervisors ask the floor to do.

Each is a frozen dataclass; :meth:`server.core.floor.Floor.execute` decides
whether it is legal and turns it into events. ``staff`` is the acting staff
id (``None`` for a kiosk); ``counter`` the counter acted at. Where a counter
command names no ``ticket`` it acts on the counter's current ticket.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IssueTicket:
    """発券: a new ticket in ``queue``; ``procedures`` are further queues of the
    same visit, visited in order after it. ``idempotency_key`` (per ``device``)
    makes a repeated command return the first ticket instead of a second one."""

    queue: str
    token: str
    procedures: tuple[str, ...] = ()
    priority: bool = False
    idempotency_key: str | None = None
    device: str | None = None


@dataclass(frozen=True, slots=True)
class CallNext:
    """呼出: call the next ticket for ``counter`` by the office's call policy."""

    counter: str
    staff: str | None = None


@dataclass(frozen=True, slots=True)
class CallTicket:
    """個別呼出: call one waiting or held ticket at ``counter``."""

    counter: str
    ticket: str
    staff: str | None = None


@dataclass(frozen=True, slots=True)
class Recall:
    """再呼出: call the counter's called ticket again."""

    counter: str
    staff: str | None = None
    ticket: str | None = None


@dataclass(frozen=True, slots=True)
class StartService:
    """対応開始: the visitor has arrived at the counter."""

    counter: str
    staff: str | None = None
    ticket: str | None = None


@dataclass(frozen=True, slots=True)
class Finish:
    """完了: service ends. The ticket moves on to its next planned procedure,
    else to its queue's hand-over queue (unless ``handover`` is false), else it is done."""

    counter: str
    staff: str | None = None
    ticket: str | None = None
    handover: bool = True


@dataclass(frozen=True, slots=True)
class NoShow:
    """不在: the called visitor did not come."""

    counter: str
    staff: str | None = None
    ticket: str | None = None


@dataclass(frozen=True, slots=True)
class Reinstate:
    """不在からの復帰: a late visitor goes back to the line at their original place."""

    ticket: str
    staff: str | None = None


@dataclass(frozen=True, slots=True)
class Transfer:
    """転送: the ticket waits in ``to_queue`` keeping its number. From a counter
    (called or serving) or for a waiting or held ticket. ``front`` keeps its
    original issue time as its place, putting it ahead of later arrivals."""

    ticket: str
    to_queue: str
    staff: str | None = None
    front: bool = False


@dataclass(frozen=True, slots=True)
class TransferCurrent:
    """転送 from a counter: the ticket at ``counter`` (called or serving) waits in
    ``to_queue`` keeping its number, as :class:`Transfer`."""

    counter: str
    to_queue: str
    staff: str | None = None
    front: bool = False


@dataclass(frozen=True, slots=True)
class Hold:
    """保留: the visitor steps away (e.g. to fetch a document); the counter is freed
    and the ticket waits to be called again by number."""

    counter: str
    staff: str | None = None
    ticket: str | None = None


@dataclass(frozen=True, slots=True)
class Cancel:
    """取消: the ticket leaves the floor without service."""

    ticket: str
    staff: str | None = None
    reason: str = "cancelled"


@dataclass(frozen=True, slots=True)
class StopIssuing:
    """受付終了: staff stop the kiosks issuing tickets for ``queue`` (e.g. when
    those waiting already fill the rest of the day). Tickets issued stay."""

    queue: str
    staff: str | None = None


@dataclass(frozen=True, slots=True)
class ResumeIssuing:
    """受付再開: ``queue`` issues tickets again."""

    queue: str
    staff: str | None = None


@dataclass(frozen=True, slots=True)
class OpenCounter:
    """窓口開始: ``staff`` signs in and opens ``counter``."""

    counter: str
    staff: str | None = None


@dataclass(frozen=True, slots=True)
class CloseCounter:
    """窓口終了: the counter closes (it must have no ticket at it)."""

    counter: str
    staff: str | None = None


@dataclass(frozen=True, slots=True)
class PauseCounter:
    """休止: the counter stops calling for a while (break)."""

    counter: str
    staff: str | None = None


@dataclass(frozen=True, slots=True)
class ResumeCounter:
    """再開: a paused counter calls again."""

    counter: str
    staff: str | None = None


@dataclass(frozen=True, slots=True)
class AtOwnCounter:
    """``command``, carried out only while ``counter`` is open (or paused) and
    staffed by ``staff``: a clerk acts at the counter they signed in to, and a
    binding gone stale (a supervisor closed the counter, the day closed it,
    someone else opened it since) is refused with ``counter_not_yours``."""

    counter: str
    staff: str
    command: Command


@dataclass(frozen=True, slots=True)
class CloseDay:
    """本日の受付終了: the business day has ended (the processor decides this when
    its clock passes midnight, Asia/Tokyo). Every ticket still waiting, called,
    served or held leaves unserved, every counter still open or paused closes
    (``reason`` ``day_end``) and the day is marked closed; all in the log, so
    nothing vanishes silently (issue 13). Deciding it is legal at any ``now``
    on or after the floor's day."""

    reason: str = "day_end"


Command = (
    IssueTicket | CallNext | CallTicket | Recall | StartService | Finish | NoShow | Reinstate
    | Transfer | TransferCurrent | Hold | Cancel | StopIssuing | ResumeIssuing
    | OpenCounter | CloseCounter | PauseCounter | ResumeCounter | AtOwnCounter | CloseDay
)
