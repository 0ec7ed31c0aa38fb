"""Counter routes (窓口): sign in/out, pause, and the clerk's one-press actions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..core import commands as c
from ..core.errors import DomainError
from ..core.floor import Floor, Outcome
from ..errors import ApiError
from .models import CallTicketIn, FinishIn, TransferIn
from .registry import Ctx, binding_holds, drop_stale_binding, endpoint
from .tickets import detail_view

COUNTER_ERRORS = (
    "unknown_counter", "counter_not_open", "counter_busy", "counter_idle", "invalid_transition", "wrong_counter",
    "counter_not_yours",
)


def _counter_view(floor: Floor, cid: str) -> dict[str, Any]:
    state = floor.counters[cid]
    return {"id": cid, "number": floor.layout.counters[cid].number, "status": state.status.value,
            "ticket": state.ticket}


async def _run(ctx: Ctx, command: c.Command, *, guard: bool = True) -> dict[str, Any]:
    """Carry out ``command`` at the path's counter. A clerk's command (``guard``) is
    carried out only while the counter is still theirs (:class:`server.core.commands.AtOwnCounter`,
    decided in the writer with the command, so no close or sign-in can slip in between);
    otherwise ``counter_not_yours`` and the session's binding is cleared."""
    cid = ctx.path["counter"]

    def view(floor: Floor, outcome: Outcome, now: datetime) -> dict[str, Any]:
        return {"counter": _counter_view(floor, cid), "ticket": detail_view(floor, outcome, now)}

    principal = ctx.principal
    if guard and principal.role == "clerk" and principal.id is not None:
        command = c.AtOwnCounter(cid, principal.id, command)
    try:
        _, result = await ctx.services.processor.submit(command, view=view)
    except DomainError as err:
        if err.code == "counter_not_yours":
            await ctx.services.auth.set_counter(principal, None)
        raise
    return result


def _left(ctx: Ctx) -> dict[str, Any]:
    """The answer to signing out of a counter that was no longer this session's."""
    floor = ctx.services.processor.current_floor()
    return {"counter": _counter_view(floor, ctx.path["counter"]), "ticket": None}


@endpoint("POST", "/api/counters/{counter}/sign-in", summary="Sign in to a counter and open it (窓口開始)",
          access="staff", tag="counters", errors=("unknown_counter", "counter_in_use", "conflict"))
async def sign_in(ctx: Ctx, _: None) -> dict[str, Any]:
    """The session acts at this counter from now on. A clerk is signed in to one counter at a time;
    a counter closed or taken over under them no longer holds them."""
    cid = ctx.path["counter"]
    principal = await drop_stale_binding(ctx.services, ctx.principal)
    current = principal.counter
    if current is not None and current != cid:
        raise ApiError("conflict", f"you are signed in to counter {current}; sign out there first")
    result = await _run(ctx, c.OpenCounter(cid, staff=ctx.staff), guard=False)
    await ctx.services.auth.set_counter(principal, cid)
    return result


@endpoint("POST", "/api/counters/{counter}/sign-out", summary="Close the counter and sign out of it (窓口終了)",
          access="counter", tag="counters", errors=COUNTER_ERRORS)
async def sign_out(ctx: Ctx, _: None) -> dict[str, Any]:
    """The counter must have no ticket at it. Signing out of a counter that was closed or taken
    over under you only ends your binding to it (the counter stays as it is)."""
    cid = ctx.path["counter"]
    principal = ctx.principal
    if principal.counter == cid and not binding_holds(ctx.services, principal):
        state = ctx.services.processor.current_floor().counters.get(cid)
        if principal.role == "clerk" or (state is not None and state.status.value == "closed"):
            await ctx.services.auth.set_counter(principal, None)
            return _left(ctx)
    try:
        result = await _run(ctx, c.CloseCounter(cid, staff=ctx.staff))
    except DomainError as err:
        if err.code == "counter_not_yours":
            return _left(ctx)
        raise
    if principal.counter == cid:
        await ctx.services.auth.set_counter(principal, None)
    return result


def _simple(path: str, summary: str, make: Callable[..., c.Command], doc: str) -> None:
    async def handler(ctx: Ctx, _: None) -> dict[str, Any]:
        return await _run(ctx, make(ctx.path["counter"], staff=ctx.staff))

    handler.__name__ = path.replace("-", "_")
    handler.__doc__ = doc
    endpoint("POST", f"/api/counters/{{counter}}/{path}", summary=summary, access="counter", tag="counters",
             errors=COUNTER_ERRORS)(handler)


_simple("pause", "Pause the counter (休止)", c.PauseCounter, "The counter stops calling until resumed.")
_simple("resume", "Resume a paused counter (再開)", c.ResumeCounter, "The counter calls again.")
_simple("call-next", "Call the next ticket (呼出)", c.CallNext,
        "Picks the next ticket among the counter's queues by the office's call policy.")
_simple("recall", "Call the current ticket again (再呼出)", c.Recall, "Any number of times.")
_simple("start", "Start service (対応開始)", c.StartService, "The called visitor has arrived.")
_simple("no-show", "Mark the called ticket no-show (不在)", c.NoShow, "It can be reinstated when the visitor turns up.")
_simple("hold", "Hold the current ticket (保留)", c.Hold, "The counter is freed; call the ticket back by number.")


@endpoint("POST", "/api/counters/{counter}/call", summary="Call a given ticket (個別呼出)", access="counter",
          tag="counters", body=CallTicketIn, errors=(*COUNTER_ERRORS, "unknown_ticket", "queue_not_served"))
async def call_ticket(ctx: Ctx, body: CallTicketIn) -> dict[str, Any]:
    """Call one waiting or held ticket of a queue this counter serves."""
    return await _run(ctx, c.CallTicket(ctx.path["counter"], body.ticket, staff=ctx.staff))


@endpoint("POST", "/api/counters/{counter}/finish", summary="Finish service (完了)", access="counter",
          tag="counters", body=FinishIn, errors=COUNTER_ERRORS)
async def finish(ctx: Ctx, body: FinishIn) -> dict[str, Any]:
    """The ticket moves to its next procedure, or the hand-over queue, or is done."""
    return await _run(ctx, c.Finish(ctx.path["counter"], staff=ctx.staff, handover=body.handover))


@endpoint("POST", "/api/counters/{counter}/transfer", summary="Transfer the current ticket (転送)", access="counter",
          tag="counters", body=TransferIn, errors=(*COUNTER_ERRORS, "unknown_queue"))
async def transfer_current(ctx: Ctx, body: TransferIn) -> dict[str, Any]:
    """The counter's ticket keeps its number and waits in ``to_queue``; the counter is freed."""
    return await _run(ctx, c.TransferCurrent(ctx.path["counter"], body.to_queue, staff=ctx.staff, front=body.front))
