"""Sign-in, staff accounts and device pairing."""

from __future__ import annotations

from typing import Any

from ..errors import ApiError
from .models import DeviceIn, LoginIn, PairIn, PasswordIn, StaffIn
from .registry import COOKIE, Ctx, JSONResponse, endpoint


@endpoint("POST", "/api/auth/login", summary="Staff sign-in", access="public", tag="auth", body=LoginIn,
          errors=("login_failed", "rate_limited"))
async def login(ctx: Ctx, body: LoginIn) -> JSONResponse:
    """Returns a bearer token and sets it as an HttpOnly cookie. Attempts are
    throttled per user name and address (back-off), per address and per user
    name (429 with Retry-After); failures are audited."""
    limits = ctx.services.limits
    address = ctx.request.client.host if ctx.request.client else "?"
    attempt = limits.begin_login(body.username, address)
    failed: bool | None = None
    try:
        token, principal = await ctx.services.auth.login(body.username, body.password, address)
        failed = False
    except ApiError as err:
        failed = err.code == "login_failed"
        raise
    finally:
        limits.end_login(attempt, failed=failed)
    response = JSONResponse(
        {"token": token, "staff": {"id": principal.id, "name": principal.name, "role": principal.role}}
    )
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        max_age=ctx.services.settings.session_ttl_s,
        secure=ctx.request.url.scheme == "https",
    )
    return response


@endpoint("POST", "/api/auth/logout", summary="Sign out", access="staff", tag="auth")
async def logout(ctx: Ctx, _: None) -> JSONResponse:
    """Ends the session (the counter stays as it is)."""
    await ctx.services.auth.logout(ctx.principal)
    ctx.services.hub.revoke(ctx.principal.token_hash)  # its open WebSockets lose what the session gave
    response = JSONResponse({"signed_out": True})
    response.delete_cookie(COOKIE)
    return response


@endpoint("GET", "/api/auth/me", summary="Who am I", access="public", tag="auth")
async def me(ctx: Ctx, _: None) -> dict[str, Any]:
    """The caller: staff (role, counter), device (kind) or anonymous."""
    p = ctx.principal
    return {
        "kind": p.kind,
        "id": p.id,
        "name": p.name,
        "role": p.role,
        "counter": p.counter,
        "device_kind": p.device_kind,
    }


@endpoint("GET", "/api/staff", summary="List staff accounts", access="admin", tag="admin")
async def list_staff(ctx: Ctx, _: None) -> list[dict[str, Any]]:
    """Every account, without password hashes."""
    return await ctx.services.auth.list_staff()


@endpoint(
    "POST",
    "/api/staff",
    summary="Create a staff account",
    access="admin",
    tag="admin",
    body=StaffIn,
    status=201,
    errors=("conflict", "invalid_request"),
)
async def create_staff(ctx: Ctx, body: StaffIn) -> dict[str, Any]:
    """Passwords are checked (NIST SP 800-63B-4: length, blocklist, context words) and stored as
    argon2id hashes of their NFKC form. The audit log names the admin who created the account."""
    return await ctx.services.auth.create_staff(body.username, body.password, body.role, body.display_name,
                                                actor=ctx.principal.id or "?")


@endpoint(
    "PUT",
    "/api/staff/{staff_id}/password",
    summary="Set a staff password",
    access="admin",
    tag="admin",
    body=PasswordIn,
    errors=("not_found", "invalid_request"),
)
async def set_password(ctx: Ctx, body: PasswordIn) -> dict[str, Any]:
    """Also ends that person's sessions."""
    await ctx.services.auth.set_password(ctx.path["staff_id"], body.password, ctx.principal.id or "?")
    ctx.services.hub.revoke(ctx.path["staff_id"])  # and their open WebSockets
    return {"updated": True}


@endpoint("GET", "/api/devices", summary="List devices", access="admin", tag="admin")
async def list_devices(ctx: Ctx, _: None) -> list[dict[str, Any]]:
    """Kiosks, displays and printer agents, paired or not, with their printer."""
    devices = await ctx.services.auth.list_devices()
    return [{**d, "printer": ctx.services.printing.printer_of(d["id"])} for d in devices]


@endpoint(
    "POST",
    "/api/devices",
    summary="Register a kiosk, display or printer agent",
    access="admin",
    tag="admin",
    body=DeviceIn,
    status=201,
    errors=("unknown_printer", "invalid_request"),
)
async def create_device(ctx: Ctx, body: DeviceIn) -> dict[str, Any]:
    """Returns a one-time pairing code; the device trades it for its token at
    ``POST /api/devices/pair``. ``printer`` (kiosks and printer agents) names
    the printer from the office file's ``[[printers]]``."""
    printing = ctx.services.printing
    if body.printer is not None:  # DeviceIn has checked it fits the kind
        printing.check_printer(body.printer)
    device, code = await ctx.services.auth.create_device(body.kind, body.name, ctx.principal.id or "?")
    if body.printer is not None:
        await printing.assign(device["id"], body.printer, ctx.principal.id or "?")
    return {"device": {**device, "printer": body.printer}, "pairing_code": code}


@endpoint(
    "POST",
    "/api/devices/pair",
    summary="Pair a device with its code",
    access="public",
    tag="admin",
    body=PairIn,
    rate_limited=True,
    errors=("forbidden", "rate_limited"),
)
async def pair(ctx: Ctx, body: PairIn) -> dict[str, Any]:
    """The device keeps the returned token and sends it as a bearer token."""
    token, device = await ctx.services.auth.pair(body.code, body.kind)
    return {"token": token, "device": {**device, "printer": ctx.services.printing.printer_of(device["id"])}}


@endpoint(
    "DELETE", "/api/devices/{device_id}", summary="Revoke a device", access="admin", tag="admin", errors=("not_found",)
)
async def revoke_device(ctx: Ctx, _: None) -> dict[str, Any]:
    """Its token stops working at once."""
    await ctx.services.auth.revoke_device(ctx.path["device_id"], ctx.principal.id or "?")
    ctx.services.hub.revoke(ctx.path["device_id"])  # and its open WebSockets at once
    return {"revoked": True}
