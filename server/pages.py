"""The floor's screens as static pages, plus the phone page and its QR code.

Routes (issue 3):

- ``/kiosk/`` touch kiosk (番号発券機), ``/counter/`` counter terminal,
  ``/displays/guidance.html`` (案内表示機), ``/displays/counter.html?counter=5``
  (個別表示機), ``/displays/staff.html`` (職員用周知機): files from the
  top-level ``kiosk/``, ``counter/`` and ``displays/`` folders, which are
  packages so that a built wheel installs them as package data; every folder
  served is found with :mod:`importlib.resources` (:func:`package_dir`), never
  relative to a source checkout.
- ``/t/<token>`` the phone page a ticket's QR opens; ``/t/<token>/qr.svg`` that
  QR code (for the kiosk screen when no printer answers); ``/status`` the public
  status page for the city's website (seed 004 8(5)). ``/`` redirects there.
- ``/static/`` the shared client modules (``live.js``: WebSocket with
  sequence numbers and reconnect) and styles.

Every page response carries a strict Content-Security-Policy and
``Referrer-Policy: no-referrer`` (the phone page's URL holds the ticket token).
"""

from __future__ import annotations

import asyncio
import logging
import re
from importlib import resources
from pathlib import Path
from typing import Any

import qrcode
import qrcode.image.svg
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hardware.ticket import TicketFontMissing, TicketFonts, font_problem, preview_png

from .api.registry import error_response
from .errors import ApiError
from .printing import face_of

log = logging.getLogger("madoguchi")


def package_dir(package: str, *parts: str) -> Path:
    """The folder ``parts`` inside the installed ``package`` (e.g. ``("server", "static")``),
    as a real directory for :class:`StaticFiles`.

    Raises :class:`RuntimeError` naming the folder when it is missing (a broken install)
    or is not a plain directory (a zipped install, which madoguchi does not support).
    """
    where = resources.files(package).joinpath(*parts)
    path = Path(str(where))
    if not isinstance(where, Path) or not path.is_dir():
        raise RuntimeError(f"madoguchi is installed without its {'/'.join((package, *parts))} folder ({where}); "
                           "reinstall it with pip from a complete source tree")
    return path


STATIC = package_dir("server", "static")
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")

SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     b"connect-src 'self'; media-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
     b"form-action 'self'"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeaders:
    """ASGI middleware adding :data:`SECURITY_HEADERS` to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass through, adding the headers on ``http.response.start``."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


def qr_svg(url: str) -> bytes:
    """An SVG QR code of ``url`` (error correction M, 4-module quiet zone, white background)."""
    factory: Any = qrcode.image.svg.SvgPathFillImage
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4, image_factory=factory)
    qr.add_data(url)
    qr.make(fit=True)
    return qr.make_image().to_string()  # type: ignore[no-any-return]  # types-qrcode leaves to_string() untyped


async def phone_page(request: Request) -> Response:
    """``/t/<token>``: the phone page (the token is read by its script)."""
    if not TOKEN_RE.match(request.path_params["token"]):
        return error_response(ApiError("not_found", "nothing here"))
    return FileResponse(STATIC / "ticket.html", headers={"cache-control": "no-store"})


async def ticket_qr(request: Request) -> Response:
    """``/t/<token>/qr.svg``: the QR code of a ticket of today (404 otherwise)."""
    services = request.app.state.services
    token = request.path_params["token"]
    if not TOKEN_RE.match(token) or services.processor.current_floor().ticket_by_token(token) is None:
        return error_response(ApiError("not_found", "no such ticket today"))
    body = qr_svg(f"{services.public_url}/t/{token}")
    return Response(body, media_type="image/svg+xml", headers={"cache-control": "private, max-age=3600"})


async def ticket_png(request: Request) -> Response:
    """``/t/<token>/ticket.png?paper=80|58``: the paper ticket as the printer
    would print it, for the kiosk screen when no printer is configured or it
    failed (a ticket of today; 404 otherwise, 422 for another paper width).
    Drawing takes tens of milliseconds in a worker thread, so it shares the
    public per-address rate limit (``public_rate``)."""
    services = request.app.state.services
    if not services.limits.hit_public(request.client.host if request.client else "?"):
        return error_response(ApiError("rate_limited", "too many requests; try again in a minute"))
    token = request.path_params["token"]
    floor = services.processor.current_floor()
    ticket = floor.ticket_by_token(token) if TOKEN_RE.match(token) else None
    if ticket is None:
        return error_response(ApiError("not_found", "no such ticket today"))
    paper = request.query_params.get("paper", "80")
    if paper not in ("58", "80"):
        return error_response(ApiError("invalid_request", "paper must be 58 or 80 (mm)"))
    face = face_of(ticket, floor, services.clock(), services.public_url)
    try:
        body = await asyncio.to_thread(preview_png, face, int(paper), services.settings.ticket_fonts())
    except TicketFontMissing as exc:
        log.error("ticket picture not drawn: %s", exc)
        return error_response(ApiError("ticket_font_missing", "the ticket picture cannot be drawn: the server has no "
                                       "Japanese font; staff: see the server log (install fonts-noto-cjk)"))
    return Response(body, media_type="image/png", headers={"cache-control": "no-store"})


def warn_without_ticket_font(fonts: TicketFonts) -> str | None:
    """At start: log a WARNING naming the package to install when the paper ticket's Japanese
    fonts are missing (tickets could then be neither printed nor shown as ``ticket.png``).
    Returns the problem, ``None`` when the fonts are found."""
    problem = font_problem(fonts)
    if problem is not None:
        log.warning("TICKETS CANNOT BE DRAWN: %s. Printing and /t/<token>/ticket.png fail until this is fixed "
                    "and the server restarted (Debian: sudo apt-get install fonts-noto-cjk; ./dev serve installs it)",
                    problem)
    return problem


async def status_page(request: Request) -> Response:
    """``/status``: every flow's people waiting and expected wait (public)."""
    return FileResponse(STATIC / "status.html")


async def home(request: Request) -> Response:
    """``/`` → ``/status``."""
    return RedirectResponse("/status", status_code=307)


def routes() -> list[BaseRoute]:
    """The page routes, to add after the API routes."""
    return [
        Route("/", home, methods=["GET"]),
        Route("/status", status_page, methods=["GET"]),
        Route("/t/{token}", phone_page, methods=["GET"]),
        Route("/t/{token}/qr.svg", ticket_qr, methods=["GET"]),
        Route("/t/{token}/ticket.png", ticket_png, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        Mount("/kiosk", StaticFiles(directory=package_dir("kiosk"), html=True), name="kiosk"),
        Mount("/counter", StaticFiles(directory=package_dir("counter"), html=True), name="counter"),
        Mount("/displays", StaticFiles(directory=package_dir("displays"), html=True), name="displays"),
        *apply_routes(),
    ]


def apply_routes() -> list[BaseRoute]:
    """The citizens' pages (their API routes, under /apply/api/, come first); ``/`` leads to them
    when they are served alone (``madoguchi serve --door apply``)."""
    return [Mount("/apply", StaticFiles(directory=package_dir("online_forms", "web"), html=True), name="apply")]
