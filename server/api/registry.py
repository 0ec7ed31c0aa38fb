"""Endpoint registry: every route is declared once with its access rule, body
and response models; the same declarations build the Starlette routes and the
OpenAPI 3.1 document (:mod:`server.api.openapi`).

Access rules:
``public`` anyone (optionally rate-limited); ``kiosk`` a paired kiosk or staff;
``printer`` a paired printer agent; ``backoffice`` a paired back-office system
(a system account; what it may read is its scope, checked by the handler);
``staff`` any signed-in staff; ``counter`` staff acting at the ``{counter}``
in the path (a clerk only at the counter they signed in to); ``desk`` staff,
clerks only while signed in to a counter; ``supervisor``; ``admin``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, request_response
from starlette.types import Receive, Scope, Send

from ..auth import Principal
from ..core.errors import DomainError
from ..errors import ApiError, envelope, validation_details
from ..processor import StorageUnavailable

if TYPE_CHECKING:  # the app imports the routes that import this module
    from ..app import Services

log = logging.getLogger(__name__)
ACCESS = ("public", "kiosk", "printer", "backoffice", "staff", "counter", "desk", "supervisor", "admin")
COOKIE = "madoguchi_token"


class JSONResponse(Response):
    """A JSON response rendered with orjson."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """JSON bytes (orjson)."""
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def error_response(err: ApiError, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The envelope for ``err`` with its status (and ``headers``, e.g. ``Allow`` on a 405;
    ``WWW-Authenticate`` on a 401 and ``Retry-After`` when the error gives one are added)."""
    out = dict(headers or {})
    if err.status == 401:
        out["WWW-Authenticate"] = "Bearer"
    if err.retry_after_s is not None:
        out["Retry-After"] = str(err.retry_after_s)
    return JSONResponse(envelope(err), status_code=err.status, headers=out or None)


@dataclass
class Ctx:
    """What a handler gets: the request, the caller and the app's services."""

    request: Request
    principal: Principal
    services: Services
    query: Any = None

    @property
    def staff(self) -> str | None:
        """The acting staff member's id (``None`` for a device or anonymous)."""
        return self.principal.id if self.principal.is_staff else None

    @property
    def path(self) -> dict[str, str]:
        """The path parameters (e.g. ``counter``)."""
        return self.request.path_params


Handler = Callable[[Ctx, Any], Awaitable[Any]]
RequestHandler = Callable[[Request], Awaitable[Response]]


@dataclass
class Spec:
    """One declared endpoint."""

    method: str
    path: str
    summary: str
    access: str
    tag: str
    handler: Handler
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    description: str = ""
    rate_limited: bool = False
    status: int = 200
    errors: tuple[str, ...] = field(default_factory=tuple)
    query: type[BaseModel] | None = None
    headers: tuple[tuple[str, str], ...] = ()
    media_type: str = "application/json"
    credential: str | None = None
    path_patterns: dict[str, str] = field(default_factory=dict)
    max_body: int | None = None


SPECS: list[Spec] = []
#: Credentials a route may need besides a sign-in: security scheme name → (header, description).
CREDENTIALS: dict[str, tuple[str, str]] = {
    "draftCode": ("X-Draft-Code", "A citizen's saved draft: its resume code (never in a URL)."),
    "receiptToken": ("X-Receipt-Token", "A citizen's application: its receipt token (from the receipt link's "
                                        "fragment, never sent in a URL)."),
}


def endpoint(method: str, path: str, *, summary: str, access: str, tag: str, body: type[BaseModel] | None = None,
             response: type[BaseModel] | None = None, rate_limited: bool = False, status: int = 200,
             errors: tuple[str, ...] = (), query: type[BaseModel] | None = None,
             headers: tuple[tuple[str, str], ...] = (), media_type: str = "application/json",
             credential: str | None = None, path_patterns: dict[str, str] | None = None,
             max_body: int | None = None) -> Callable[[Handler], Handler]:
    """Declare an endpoint; the handler's docstring becomes its description.
    ``query``: a model the query string is checked against (``ctx.query``);
    ``headers``: request headers it reads, ``(name, description)``, for the
    document; ``media_type``: what it answers with (JSON unless said);
    ``credential``: a header credential of :data:`CREDENTIALS` the route needs
    (missing: 401 ``unauthenticated`` before the handler runs);
    ``path_patterns``: the pattern a path parameter must match (else 422);
    ``max_body``: the largest body in bytes (default ``MADOGUCHI_MAX_BODY_BYTES``),
    for routes that take whole documents (a form, a shared file)."""
    assert access in ACCESS, access
    assert credential is None or credential in CREDENTIALS, credential

    def register(handler: Handler) -> Handler:
        SPECS.append(Spec(method, path, summary, access, tag, handler, body, response,
                          (handler.__doc__ or "").strip(), rate_limited, status, errors, query, headers, media_type,
                          credential, dict(path_patterns or {}), max_body))
        return handler

    return register


def bearer(headers: Mapping[str, str], cookies: dict[str, str]) -> str | None:
    """The token from ``Authorization: Bearer …`` or the session cookie."""
    value = headers.get("authorization", "")
    if value.lower().startswith("bearer "):
        return str(value[7:].strip())
    return cookies.get(COOKIE)


def check_access(access: str, principal: Principal, path: dict[str, str]) -> None:
    """Raise :class:`ApiError` unless ``principal`` may use an endpoint with ``access``."""
    if access == "public":
        return
    if principal.kind == "anonymous":
        raise ApiError("unauthenticated", "sign in first")
    if access == "kiosk":
        if principal.is_staff or principal.device_kind == "kiosk":
            return
        raise ApiError("forbidden", "only kiosks and staff can issue tickets")
    if access == "printer":
        if principal.device_kind == "printer":
            return
        raise ApiError("forbidden", "only a printer agent can do this")
    if access == "backoffice":
        if principal.device_kind == "backoffice":
            return
        raise ApiError("forbidden", "only a back-office system can do this")
    if not principal.is_staff:
        raise ApiError("forbidden", "this needs a staff account")
    role = principal.role
    if access == "admin" and role != "admin":
        raise ApiError("forbidden", "this needs an admin account")
    if access == "supervisor" and role not in ("admin", "supervisor"):
        raise ApiError("forbidden", "this needs a supervisor account")
    if role == "clerk":
        if access == "counter" and principal.counter != path.get("counter"):
            raise ApiError("wrong_counter", "you are not signed in to this counter")
        if access == "desk" and principal.counter is None:
            raise ApiError("wrong_counter", "sign in to a counter first")


def binding_holds(services: Services, principal: Principal) -> bool:
    """Whether the counter ``principal``'s session is signed in to is still open (or paused)
    on today's floor and staffed by them (true when there is no binding)."""
    if principal.counter is None:
        return True
    return services.processor.current_floor().staffed_by(principal.counter, principal.id)


async def drop_stale_binding(services: Services, principal: Principal) -> Principal:
    """``principal`` with its session's counter binding cleared when it no longer holds
    (:func:`binding_holds`): a supervisor closed the counter, the day closed it, or
    someone else opened it since."""
    if binding_holds(services, principal):
        return principal
    return await services.auth.set_counter(principal, None)


async def _read_body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > limit):
        raise ApiError("payload_too_large", f"the request body is larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError("payload_too_large", f"the request body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(spec: Spec, raw: bytes, content_type: str) -> BaseModel | None:
    assert spec.body is not None
    if raw.strip() and not content_type.split(";")[0].strip().lower() == "application/json":
        raise ApiError("unsupported_media_type", "send the body as application/json")
    if not raw.strip():
        raw = b"{}"
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError("malformed_json", "the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError("invalid_request", "the request body must be a JSON object")
    try:
        # JSON mode: strict types as JSON has them (a date is an ISO string, never a number).
        return spec.body.model_validate_json(raw)
    except ValidationError as exc:
        raise ApiError("invalid_request", "the request body has errors", validation_details(exc.errors())) from None


def _query(model: type[BaseModel], request: Request) -> BaseModel:
    params = request.query_params
    names = {f.alias or n for n, f in model.model_fields.items()}
    unknown = set(params) - names
    if unknown:
        raise ApiError("invalid_request", f"unknown query parameter: {', '.join(sorted(unknown))}")
    data = {k: params[k] for k in params}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError("invalid_request", "the query has errors", validation_details(exc.errors())) from None


def _run(spec: Spec) -> RequestHandler:
    """The request handler of ``spec``: access, body, handler, errors as the envelope."""

    async def run(request: Request) -> Response:
        services = request.app.state.services
        try:
            principal = await services.auth.resolve(bearer(request.headers, request.cookies))
            if spec.rate_limited or spec.path.startswith("/apply/api/"):
                address = request.client.host if request.client else "?"
                hit = services.limits.hit_apply if spec.path.startswith("/apply/api/") else services.limits.hit_public
                if not hit(address):
                    raise ApiError("rate_limited", "too many requests; try again in a minute", retry_after_s=60)
            check_access(spec.access, principal, request.path_params)
            if spec.credential is not None and not request.headers.get(CREDENTIALS[spec.credential][0], "").strip():
                raise ApiError("unauthenticated", f"send the {CREDENTIALS[spec.credential][0]} header")
            for name, pattern in spec.path_patterns.items():
                if re.fullmatch(pattern, request.path_params.get(name, "")) is None:
                    raise ApiError("invalid_request", f"{name} is not in the expected form")
            if spec.access == "desk" and principal.role == "clerk" and not binding_holds(services, principal):
                await drop_stale_binding(services, principal)
                raise ApiError("counter_not_yours", "your counter was closed or taken over; sign in to a counter again")
            body = None
            if spec.body is not None:
                raw = await _read_body(request, spec.max_body or services.settings.max_body_bytes)
                body = _parse(spec, raw, request.headers.get("content-type", ""))
            query = _query(spec.query, request) if spec.query is not None else None
            result = await spec.handler(Ctx(request, principal, services, query), body)
            if isinstance(result, Response):
                return result
            return JSONResponse(result, status_code=spec.status)
        except ApiError as err:
            return error_response(err)
        except DomainError as err:
            return error_response(ApiError(err.code, err.message))
        except StorageUnavailable:
            message = "the command could not be stored; nothing was changed"
            return error_response(ApiError("storage_unavailable", message))

    run.__name__ = spec.handler.__name__
    return run


def _dispatch(handlers: dict[str, RequestHandler]) -> RequestHandler:
    allowed = sorted({*handlers, *(["HEAD"] if "GET" in handlers else [])})

    async def dispatch(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method  # the server sends no body for HEAD
        if method not in handlers:
            return error_response(ApiError("method_not_allowed", "this method is not allowed here"),
                                  {"Allow": ", ".join(allowed)})
        return await handlers[method](request)

    return dispatch


class _AnyMethod:
    """The ASGI app of one API path: Starlette routes every method of the path to
    an app given as an object (to a function, only GET and HEAD)."""

    def __init__(self, handlers: dict[str, RequestHandler]) -> None:
        self.app = request_response(_dispatch(handlers))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def api_routes(specs: list[Spec]) -> list[Route]:
    """One Starlette route per path taking every method: it answers a method the
    path does not take with 405 and an ``Allow`` header naming those it does (RFC
    9110 15.5.6). Paths with fewer ``{parameters}`` come first, so a concrete path
    wins over a templated one for every method (``/api/devices/me/printer`` over
    ``/api/devices/{device_id}/printer``), as OpenAPI 3.1 matches them."""
    by_path: dict[str, dict[str, RequestHandler]] = {}
    for spec in specs:
        by_path.setdefault(spec.path, {})[spec.method] = _run(spec)
    paths = sorted(by_path, key=lambda path: path.count("{"))
    return [Route(path, _AnyMethod(by_path[path])) for path in paths]
