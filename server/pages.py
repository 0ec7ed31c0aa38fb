"""The floor's screens as static pages, plus the phone page and its QR code.

Routes (issue 3):

- ``/kiosk/`` touch kiosk (番号発券機), ``/counter/`` counter terminal,
  ``/displays/guidance.html`` (案内表示機), ``/displays/counter.html?counter=5``
  (個別表示機), ``/displays/staff.html`` (職員用周知機): files from the
  top-level ``kiosk/``, ``counter/`` and ``displays/`` folders.
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
import re
from pathlib import Path
from typing import Any

import qrcode
import qrcode.image.svg
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hardware.ticket import preview_png

from .api.registry import error_response
from .errors import ApiError
from .printing import face_of

ROOT = Path(__file__).resolve().parent.parent
STATIC = Path(__file__).resolve().parent / "static"
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
    return qr.make_image().to_string()  # type: ignore[no-any-return]


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
    body = await asyncio.to_thread(preview_png, face, int(paper), services.settings.ticket_fonts())
    return Response(body, media_type="image/png", headers={"cache-control": "no-store"})


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
        Mount("/kiosk", StaticFiles(directory=ROOT / "kiosk", html=True), name="kiosk"),
        Mount("/counter", StaticFiles(directory=ROOT / "counter", html=True), name="counter"),
        Mount("/displays", StaticFiles(directory=ROOT / "displays", html=True), name="displays"),
    ]
