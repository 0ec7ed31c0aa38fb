"""Ticket routes: issue (発券), public status, and ticket-level staff actions."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Any

from ..core import commands as c
from ..core.floor import Floor, Outcome
from ..errors import ApiError
from ..views import iso, queue_status, ticket_detail, ticket_public
from .models import CancelIn, IssuedTicket, IssueIn, TransferIn
from .registry import Ctx, endpoint

log = logging.getLogger(__name__)


@endpoint("POST", "/api/tickets", summary="Issue a ticket (発券)", access="kiosk", tag="tickets", body=IssueIn,
          response=IssuedTicket, status=201,
          errors=("unknown_queue", "queue_not_issuable", "office_closed", "queue_closed", "queue_not_ready",
                  "numbers_exhausted"))
async def issue(ctx: Ctx, body: IssueIn) -> dict[str, Any]:
    """Issue a ticket in a queue. A repeated request with the same idempotency key
    (body field or ``Idempotency-Key`` header) from the same device returns the
    first ticket, so a double tap never prints two tickets. A queue that issues
    nothing now is refused with the reason the screens show (the queue's
    ``closed_reason`` in ``/api/state``): ``office_closed`` (受付時間外),
    ``queue_closed`` (受付終了, by staff), ``queue_not_ready`` (準備中: no counter
    serving it is staffed yet), ``numbers_exhausted``, ``queue_not_issuable``."""
    key = body.idempotency_key or ctx.request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= 64:
        raise ApiError("invalid_request", "Idempotency-Key must be 1-64 characters")
    command = c.IssueTicket(
        body.queue, token=secrets.token_urlsafe(16), procedures=tuple(body.procedures), priority=body.priority,
        idempotency_key=key, device=ctx.principal.id,
    )
    _, issued = await ctx.services.processor.submit(command, view=_issued_view)
    device = ctx.principal.id if ctx.principal.kind == "device" else None
    try:
        printed = await ctx.services.printing.print_issued(device, issued["ticket"])
    except Exception:  # the ticket is issued whatever happens to its paper
        log.exception("could not queue the print job of ticket %s", issued["ticket"])
        printed = {"state": "print_error", "message": "the print job could not be stored"}
    url = f"{ctx.services.public_url}/t/{issued['token']}"
    return {**issued, "status_url": url, "preview_url": f"/t/{issued['token']}/ticket.png", "print": printed}


def _issued_view(floor: Floor, outcome: Outcome, now: datetime) -> dict[str, Any]:
    assert outcome.ticket is not None  # IssueTicket always names its ticket
    ticket = floor.tickets[outcome.ticket]
    public = ticket_public(ticket, floor, now)
    return {
        "ticket": ticket.id, "display": ticket.display, "number": ticket.number, "queue": ticket.series,
        "token": ticket.token, "issued_at": iso(ticket.issued_at),
        **{k: public[k] for k in ("ahead", "wait_s", "low_s", "high_s", "wait_min")},
    }


async def _issuing(ctx: Ctx, command: c.StopIssuing | c.ResumeIssuing) -> dict[str, Any]:
    def view(floor: Floor, outcome: Outcome, now: datetime) -> dict[str, Any]:
        return queue_status(floor, command.queue, now)

    _, status = await ctx.services.processor.submit(command, view=view)
    return status


@endpoint("POST", "/api/queues/{queue}/stop-issuing", summary="Stop issuing tickets for a queue (受付終了)",
          access="supervisor", tag="tickets", errors=("unknown_queue", "queue_not_issuable"))
async def stop_issuing(ctx: Ctx, _: None) -> dict[str, Any]:
    """The kiosks stop issuing for this queue (they show 受付終了 and the API
    refuses with ``queue_closed``); tickets already issued stay. Answers the
    queue's status. Repeating it changes nothing."""
    return await _issuing(ctx, c.StopIssuing(ctx.path["queue"], staff=ctx.staff))


@endpoint("POST", "/api/queues/{queue}/resume-issuing", summary="Issue tickets for a queue again (受付再開)",
          access="supervisor", tag="tickets", errors=("unknown_queue",))
async def resume_issuing(ctx: Ctx, _: None) -> dict[str, Any]:
    """Undo :func:`stop_issuing`. Answers the queue's status."""
    return await _issuing(ctx, c.ResumeIssuing(ctx.path["queue"], staff=ctx.staff))


@endpoint("GET", "/api/public/tickets/{token}", summary="A ticket's public status (phone page)", access="public",
          tag="public", rate_limited=True, errors=("not_found", "rate_limited"))
async def public_status(ctx: Ctx, _: None) -> dict[str, Any]:
    """Number, state, number now served, people ahead and expected wait; the
    counter when called. No personal data. Rate-limited per address."""
    floor = ctx.services.processor.current_floor()
    ticket = floor.ticket_by_token(ctx.path["token"])
    if ticket is None:
        raise ApiError("not_found", "no such ticket today")
    return ticket_public(ticket, floor, ctx.services.clock())


@endpoint("GET", "/api/tickets/{ticket}", summary="A ticket with its visit's progress", access="staff", tag="tickets",
          errors=("unknown_ticket",))
async def ticket_info(ctx: Ctx, _: None) -> dict[str, Any]:
    """Every step of the visit across counters, for clerks (staff only)."""
    floor = ctx.services.processor.current_floor()
    ticket = floor.tickets.get(ctx.path["ticket"])
    if ticket is None:
        raise ApiError("unknown_ticket", "no such ticket today")
    return ticket_detail(ticket, floor, ctx.services.clock())


def detail_view(floor: Floor, outcome: Outcome, now: datetime) -> dict[str, Any] | None:
    """The staff view of the command's ticket right after the command."""
    return ticket_detail(floor.tickets[outcome.ticket], floor, now) if outcome.ticket else None


async def _ticket_command(ctx: Ctx, command: c.Command) -> dict[str, Any]:
    _, detail = await ctx.services.processor.submit(command, view=detail_view)
    assert detail is not None, "a ticket command's outcome names its ticket"
    return detail


@endpoint("POST", "/api/tickets/{ticket}/reinstate", summary="Reinstate a no-show (不在からの復帰)", access="desk",
          tag="tickets", errors=("unknown_ticket", "invalid_transition"))
async def reinstate(ctx: Ctx, _: None) -> dict[str, Any]:
    """A visitor marked no-show turned up: back in line at their original place."""
    return await _ticket_command(ctx, c.Reinstate(ctx.path["ticket"], staff=ctx.staff))


@endpoint("POST", "/api/tickets/{ticket}/transfer", summary="Transfer a ticket to another queue (転送)", access="desk",
          tag="tickets", body=TransferIn, errors=("unknown_ticket", "unknown_queue", "invalid_transition"))
async def transfer(ctx: Ctx, body: TransferIn) -> dict[str, Any]:
    """The ticket keeps its number and waits in ``to_queue``."""
    return await _ticket_command(ctx, c.Transfer(ctx.path["ticket"], body.to_queue, staff=ctx.staff, front=body.front))


@endpoint("POST", "/api/tickets/{ticket}/cancel", summary="Cancel a ticket (取消)", access="desk", tag="tickets",
          body=CancelIn, errors=("unknown_ticket", "invalid_transition"))
async def cancel(ctx: Ctx, body: CancelIn) -> dict[str, Any]:
    """The ticket leaves the floor without service."""
    return await _ticket_command(ctx, c.Cancel(ctx.path["ticket"], staff=ctx.staff, reason=body.reason))


