"""Statistics routes (issue 5): exports for download with progress, and today so far.

An export runs ``madoguchi stats`` as a child process, so reading a year of the
log and writing the workbook never takes the queue server's event loop or its
GIL (seed 004 15(7)); the child's ``progress`` lines are what
``GET /api/stats/exports/{id}`` reports. Files are kept in
``<data dir>/exports``; the 20 newest exports are kept.

Bounded (issue 13, point 10): at most ``stats_exports_running`` exports run at
once (more are refused with 429), the days are checked and narrowed to the
log's first and last business day and at most ``stats_export_max_years``
years (:mod:`stats.bounds`, else 422), and ``DELETE`` on a running export
kills its process.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from sqlalchemy import text
from starlette.responses import FileResponse

from stats.bounds import LOG_SPAN_QUERY, RangeError, bounded, log_span

from .. import config
from ..core.calendar import business_day
from ..errors import ApiError
from .models import Body
from .registry import Ctx, endpoint

KEEP = 20


class ExportIn(Body):
    """What to export: business days ``from``..``to`` (inclusive), granularities,
    format, CSV encoding, optional sections."""

    first: date = Field(alias="from", description="YYYY-MM-DD")
    last: date = Field(alias="to", description="YYYY-MM-DD")
    by: list[Literal["hour", "day", "month"]] = Field(default_factory=list, max_length=3)
    format: Literal["csv", "xlsx"]
    encoding: Literal["utf-8", "shift_jis"] = "utf-8"
    section: list[str] = Field(default_factory=list, max_length=20)


@dataclass(eq=False)
class Export:
    """One export job and how far it has got."""

    id: str
    path: Path
    filename: str
    state: str = "running"  # running, done, failed, cancelled
    progress: float = 0.0
    phase: str = "starting"
    error: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    proc: asyncio.subprocess.Process | None = field(default=None, repr=False)

    def leftovers(self) -> list[Path]:
        """The export's file and what a killed child leaves beside it (its temporary files)."""
        return [self.path, *self.path.parent.glob(f".{self.path.name}.*")]

    def public(self) -> dict[str, Any]:
        """``{"id", "state", "progress" 0..1, "phase", "error", "download"}``."""
        return {"id": self.id, "state": self.state, "progress": round(self.progress, 2), "phase": self.phase,
                "error": self.error, "download": f"/api/stats/exports/{self.id}/file" if self.state == "done" else None,
                "filename": self.filename}


def _exports(ctx: Ctx) -> dict[str, Export]:
    state = ctx.request.app.state
    if not hasattr(state, "exports"):
        state.exports = {}
    exports: dict[str, Export] = state.exports
    return exports


async def _run(job: Export, command: list[str]) -> None:
    proc = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    job.proc = proc
    if job.state == "cancelled":  # cancelled while it was starting
        proc.kill()
    assert proc.stdout is not None and proc.stderr is not None
    async for raw in proc.stdout:
        parts = raw.decode(errors="replace").split()
        if len(parts) == 3 and parts[0] == "progress":
            job.progress, job.phase = float(parts[1]), parts[2]
    err = (await proc.stderr.read()).decode(errors="replace").strip()
    await proc.wait()
    if job.state == "cancelled":
        _remove(job)
    elif proc.returncode == 0:
        job.state, job.progress, job.phase = "done", 1.0, "done"
    else:
        job.state, job.phase = "failed", "failed"
        job.error = err.removeprefix("madoguchi stats: error: ")[:300] or f"exit {proc.returncode}"


def _remove(job: Export) -> None:
    for path in job.leftovers():
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


@endpoint("POST", "/api/stats/exports", summary="Start a statistics export (CSV or XLSX)", access="supervisor",
          tag="stats", body=ExportIn, status=202, errors=("invalid_request", "rate_limited"))
async def start_export(ctx: Ctx, body: ExportIn) -> dict[str, Any]:
    """Runs in a child process; poll ``GET /api/stats/exports/{id}`` for
    progress, then download ``/api/stats/exports/{id}/file``; ``DELETE`` it to
    cancel. The days are narrowed to those the log holds (the file is named
    after the days it covers). Refused (422) for days outside 2000-01-01..2999-12-31,
    reversed dates, more than ``stats_export_max_years`` years of logged days,
    an unknown section, or CSV with more than one granularity; (429) while
    ``stats_exports_running`` exports run."""
    services = ctx.services
    unknown = [s for s in body.section if s not in services.layout.sections]
    if unknown:
        known = ", ".join(services.layout.sections)
        raise ApiError("invalid_request", f"no section {unknown[0][:32]!r} (known: {known})")
    if body.format == "csv" and len(body.by) > 1:
        raise ApiError("invalid_request", "a CSV holds one granularity; choose one, or XLSX for several")
    try:
        bounded(body.first, body.last, None, services.settings.stats_export_max_years)  # before reading the log
        async with services.engine.connect() as conn:
            span = log_span(tuple((await conn.execute(text(LOG_SPAN_QUERY))).one()))
        first, last = bounded(body.first, body.last, span, services.settings.stats_export_max_years)
    except RangeError as err:
        raise ApiError("invalid_request", str(err)) from None
    folder = services.settings.data_dir / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    jobs = _exports(ctx)
    limit = services.settings.stats_exports_running
    if sum(j.state == "running" for j in jobs.values()) >= limit:  # no await from here to the job's start
        raise ApiError("rate_limited", f"{limit} statistics exports are running, the most at once; "
                                       "wait for one to finish or cancel it")
    for old in sorted(jobs.values(), key=lambda j: j.path.stat().st_mtime if j.path.exists() else 0)[:-KEEP + 1]:
        if old.state != "running":
            old.path.unlink(missing_ok=True)
            jobs.pop(old.id, None)
    export_id = uuid.uuid4().hex
    by = body.by or (["day"] if body.format == "csv" else ["hour", "day", "month"])
    suffix = f"-{by[0]}" if body.format == "csv" else ""
    filename = f"madoguchi-{first.isoformat()}_{last.isoformat()}{suffix}.{body.format}"
    job = Export(export_id, folder / f"{export_id}.{body.format}", filename)
    office = services.settings.config or config.DEMO_OFFICE
    command = [sys.executable, "-m", "server.cli", "stats", "--from", first.isoformat(),
               "--to", last.isoformat(), "--max-years", str(services.settings.stats_export_max_years),
               "--format", body.format, "--out", str(job.path),
               "--encoding", body.encoding, "--progress",
               "--config", str(office), "--db", services.settings.database_url(),
               "--data-dir", str(services.settings.data_dir)]
    for g in by:
        command += ["--by", g]
    for s in body.section:
        command += ["--section", s]
    jobs[export_id] = job
    job.task = asyncio.create_task(_run(job, command), name=f"export-{export_id}")
    return job.public()


@endpoint("GET", "/api/stats/exports/{export}", summary="An export's progress", access="supervisor", tag="stats",
          errors=("not_found",))
async def export_status(ctx: Ctx, _: None) -> dict[str, Any]:
    """``state`` running/done/failed, ``progress`` 0–1, ``phase`` (reading,
    computing, writing), ``error`` and the ``download`` path when done."""
    job = _exports(ctx).get(ctx.path["export"])
    if job is None:
        raise ApiError("not_found", "no such export")
    return job.public()


@endpoint("DELETE", "/api/stats/exports/{export}", summary="Cancel or delete an export", access="supervisor",
          tag="stats", errors=("not_found",))
async def cancel_export(ctx: Ctx, _: None) -> dict[str, Any]:
    """A running export is cancelled: its process is killed, its partial files
    removed, and its state becomes ``cancelled``. A finished one is deleted
    with its file (``state`` ``deleted``; it is then no longer found)."""
    jobs = _exports(ctx)
    job = jobs.get(ctx.path["export"])
    if job is None:
        raise ApiError("not_found", "no such export")
    if job.state == "running":
        job.state, job.phase = "cancelled", "cancelled"
        if job.proc is not None and job.proc.returncode is None:
            job.proc.kill()
        if job.task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(job.task), 10)
        _remove(job)
        return job.public()
    jobs.pop(job.id, None)
    _remove(job)
    return {**job.public(), "state": "deleted", "download": None}


@endpoint("GET", "/api/stats/exports/{export}/file", summary="Download a finished export", access="supervisor",
          tag="stats", errors=("not_found", "conflict"))
async def export_file(ctx: Ctx, _: None) -> FileResponse:
    """The CSV or XLSX as an attachment named after its days."""
    job = _exports(ctx).get(ctx.path["export"])
    if job is None or (not job.path.exists() and job.state == "done"):
        raise ApiError("not_found", "no such export")
    if job.state != "done":
        raise ApiError("conflict", f"the export is {job.state}")
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    media = "text/csv" if job.path.suffix == ".csv" else xlsx
    return FileResponse(job.path, media_type=media, filename=job.filename, headers={"cache-control": "no-store"})


@endpoint("GET", "/api/stats/today", summary="Today so far (supervisors)", access="supervisor", tag="stats")
async def today(ctx: Ctx, _: None) -> dict[str, Any]:
    """Today's figures from the log: per section, procedure, counter and clerk
    (``figures``), and per section by the hour (``hours``); times in seconds.
    Read through the server's own engine (a day is a few thousand rows) and
    computed in a worker thread."""
    import polars as pl

    from stats.figures import dimensions_of, figures, stages
    from stats.source import event_frame, events_query

    services = ctx.services
    day = business_day(services.clock())
    async with services.engine.connect() as conn:
        result = await conn.execute(text(events_query(day, day)))
        columns = list(result.keys())
        rows = result.all()
        names = {r.id: r.display_name for r in (await conn.execute(text("SELECT id, display_name FROM staff"))).all()}
    dims = dimensions_of(services.layout, names)
    target = services.stats.target_wait_s

    def compute() -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
        frame = pl.DataFrame([tuple(r) for r in rows], schema=columns, orient="row")
        st = stages(event_frame(frame))
        hours = figures(st, dims, "hour", target, kinds=("section",))
        return figures(st, dims, "day", target).to_dicts(), hours.to_dicts(), int((st["begin"] == "issued").sum())

    day_rows, hour_rows, tickets = await asyncio.to_thread(compute)
    return {"day": day.isoformat(), "tickets": tickets, "target_wait_s": target, "figures": day_rows,
            "hours": hour_rows}
