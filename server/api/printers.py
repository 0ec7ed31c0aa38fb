"""Printer routes (issue 4): which device prints where, print job status,
reprint (再発行, audited), and the endpoints a ``madoguchi printer-agent`` uses."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from hardware.printer import PrinterState

from ..errors import ApiError
from .models import AgentResultIn, PrinterIn, PrinterStateIn, ReprintIn
from .registry import Ctx, endpoint

#: Longest wait a kiosk may ask of ``GET /api/print-jobs/{job}?wait=``.
MAX_WAIT_S = 20.0


@endpoint("PUT", "/api/devices/{device_id}/printer", summary="Set the printer of a kiosk or printer agent",
          access="admin", tag="printers", body=PrinterIn, errors=("not_found", "unknown_printer", "invalid_request"))
async def set_printer(ctx: Ctx, body: PrinterIn) -> dict[str, Any]:
    """Which printer a kiosk prints its tickets on (e.g. switching to a backup
    printer, seed 004 10(8)), or which printer an agent drives. Audited."""
    device_id = ctx.path["device_id"]
    devices = {d["id"]: d for d in await ctx.services.auth.list_devices()}
    device = devices.get(device_id)
    if device is None or device["revoked"]:
        raise ApiError("not_found", "no such device")
    if device["kind"] == "display":
        raise ApiError("invalid_request", "a display has no printer")
    if device["kind"] == "printer" and body.printer is None:
        raise ApiError("invalid_request", "a printer agent needs the printer it drives")
    await ctx.services.printing.assign(device_id, body.printer, ctx.principal.id or "?")
    return {"device": device_id, "printer": body.printer}


@endpoint("GET", "/api/printers", summary="Printers and their health", access="staff", tag="printers")
async def list_printers(ctx: Ctx, _: None) -> list[dict[str, Any]]:
    """Each printer's state (ok, paper_near_end, paper_end, cover_open,
    offline, error, unknown), since when, queued jobs and given-up jobs."""
    return ctx.services.printing.overview()


@endpoint("GET", "/api/print-jobs/{job}", summary="A print job's status", access="kiosk", tag="printers",
          errors=("unknown_job", "invalid_request"))
async def job_status(ctx: Ctx, _: None) -> dict[str, Any]:
    """With ``?wait=S`` (at most 20 s) the answer comes once the ticket is
    printed or given up, once an attempt failed on a printer that needs a person
    (paper end, cover open, offline), or after S seconds."""
    printing = ctx.services.printing
    job = printing.job(ctx.path["job"])
    if ctx.principal.kind == "device" and job.device != ctx.principal.id:
        raise ApiError("unknown_job", "no such print job")
    raw = ctx.request.query_params.get("wait")
    if raw is None:
        return printing.job_status(job)
    try:
        wait = float(raw)
    except ValueError:
        raise ApiError("invalid_request", "wait must be a number of seconds") from None
    if not 0 <= wait <= MAX_WAIT_S:
        raise ApiError("invalid_request", f"wait must be between 0 and {MAX_WAIT_S:g} seconds")
    return await printing.wait(job.id, wait)


@endpoint("POST", "/api/tickets/{ticket}/reprint", summary="Reprint a ticket (再発行)", access="staff", tag="printers",
          body=ReprintIn, status=202, errors=("unknown_ticket", "unknown_printer", "no_printer"))
async def reprint(ctx: Ctx, body: ReprintIn) -> dict[str, Any]:
    """Prints the ticket again, marked 再発行 REPRINT, with people ahead and
    expected wait as of now; on ``printer`` or the printer of the kiosk that
    issued it. Every reprint is written to the audit log."""
    actor = ctx.principal.name or ctx.principal.id or "?"
    return await ctx.services.printing.reprint(ctx.path["ticket"], body.printer, ctx.staff or "?", actor)


@endpoint("GET", "/api/devices/me/printer", summary="This agent's printer (printer agent)", access="printer",
          tag="printers")
async def my_printer(ctx: Ctx, _: None) -> dict[str, Any]:
    """``{"printer": id or null, "paper_mm"}``: what the calling agent drives."""
    printer = ctx.services.printing.printer_of(ctx.principal.id or "")
    spec = ctx.services.printing.workers.get(printer or "")
    return {"printer": printer if spec else None, "paper_mm": spec.spec.paper_mm if spec else None}


def _agent_printer(ctx: Ctx) -> str:
    printer = ctx.services.printing.printer_of(ctx.principal.id or "")
    if printer is None or printer not in ctx.services.printing.workers:
        raise ApiError("unknown_printer", "this agent has no printer from the office file")
    return printer


@endpoint("GET", "/api/print-jobs/{job}/escpos", summary="A job's ESC/POS bytes (printer agent)", access="printer",
          tag="printers", errors=("unknown_job", "unknown_printer"))
async def job_bytes(ctx: Ctx, _: None) -> Response:
    """``application/octet-stream``: the bytes to write to the printer as they are."""
    printer = _agent_printer(ctx)
    job = ctx.services.printing.job(ctx.path["job"])
    if job.printer != printer:
        raise ApiError("unknown_job", "no such print job for this printer")
    data = await ctx.services.printing.job_data(job.id)
    return Response(data, media_type="application/octet-stream", headers={"cache-control": "no-store"})


@endpoint("POST", "/api/print-jobs/{job}/result", summary="How a job went (printer agent)", access="printer",
          tag="printers", body=AgentResultIn, errors=("unknown_job", "unknown_printer"))
async def job_result(ctx: Ctx, body: AgentResultIn) -> dict[str, Any]:
    """``ok`` true once every byte was written; otherwise the job is retried."""
    printer = _agent_printer(ctx)
    await ctx.services.printing.agent_result(printer, ctx.path["job"], body.ok, PrinterState(body.state), body.message)
    return {"accepted": True}


@endpoint("POST", "/api/printers/{printer}/status", summary="A printer's health (printer agent)", access="printer",
          tag="printers", body=PrinterStateIn, errors=("unknown_printer", "forbidden"))
async def printer_status(ctx: Ctx, body: PrinterStateIn) -> dict[str, Any]:
    """The agent reports its printer's state when it changes and when it connects."""
    printer = _agent_printer(ctx)
    if printer != ctx.path["printer"]:
        raise ApiError("forbidden", "this agent drives another printer")
    await ctx.services.printing.agent_status(printer, PrinterState(body.state))
    return {"printer": printer, "state": body.state}
