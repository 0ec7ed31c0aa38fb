"""The WebSocket endpoint ``/ws``: subscriptions, snapshots, numbered events.

Client → server messages (JSON objects, at most ``ws_max_message_bytes`` bytes of UTF-8):

- ``{"type": "subscribe", "id": 1, "topics": ["office", "queue:shomei"], "since": 120}``
- ``{"type": "unsubscribe", "id": 2, "topics": ["queue:shomei"]}``
- ``{"type": "auth", "id": 3, "token": "…"}`` (or send ``Authorization: Bearer`` / the session cookie)
- ``{"type": "ping", "id": 4}``

Server → client: ``result`` and ``error`` (answers by ``id``), ``snapshot``,
``event`` (with ``queues``: the new status of the queues it touched),
``queue_status`` (after a resume), ``ticket_status`` and ``heartbeat``. A bad message
gets an error and the connection stays open (STYLE.md 4); a client that falls
behind is closed with code 1013 and reconnects with ``since``.

Bounds on what one client causes (issue 13): ``ws_rate`` messages a second after a
burst of ``ws_burst`` (past it ``rate_limited``; refused ``ws_burst`` times in a row:
closed 1008), ``ws_max_topics`` topics per connection (``too_many_topics``), a topic
named twice counts once. Privileges follow the credentials: logout, a password
change, device revocation (:meth:`Hub.revoke`) and session expiry close the
connection with 4401; ``auth`` with another token drops what it may not read. A
handshake with the session cookie from a foreign ``Origin`` is refused (403). A
closed client that does not answer within :data:`CLOSE_GRACE_S` is reset.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import struct
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast
from urllib.parse import urlsplit

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

from .api.registry import COOKIE, bearer
from .auth import ANONYMOUS, Principal
from .core.floor import Floor
from .errors import ApiError, validation_details
from .hub import Subscriber, dumps

if TYPE_CHECKING:  # the app imports this module
    from .app import Services

log = logging.getLogger(__name__)
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    id: int | None = None


class SubscribeMsg(_Msg):
    """Subscribe to topics, optionally resuming after sequence number ``since``."""

    type: Literal["subscribe"]
    topics: list[str] = Field(min_length=1, max_length=50)
    since: int | None = Field(None, ge=0)


class UnsubscribeMsg(_Msg):
    """Stop receiving topics."""

    type: Literal["unsubscribe"]
    topics: list[str] = Field(min_length=1, max_length=50)


class AuthMsg(_Msg):
    """Authenticate the connection with a bearer token."""

    type: Literal["auth"]
    token: str = Field(min_length=1, max_length=200)


class PingMsg(_Msg):
    """Ask for a pong (with the latest sequence number)."""

    type: Literal["ping"]


Message = TypeAdapter(Annotated[SubscribeMsg | UnsubscribeMsg | AuthMsg | PingMsg, Field(discriminator="type")])


def _error(msg_id: Any, err: ApiError) -> str:
    return dumps({"type": "error", "id": msg_id if isinstance(msg_id, int) else None, "error": err.body()})


#: How often an open connection re-reads its credentials (session expiry, a change
#: made elsewhere); logout and revocation through the API act at once (:meth:`Hub.revoke`).
RECHECK_S = 1.0
#: How long closing waits for the client's side of the closing handshake before the
#: server aborts the TCP connection (a client that stopped reading never answers).
CLOSE_GRACE_S = 1.0
#: The ASGI scope extension where :class:`TransportProtocol` puts the connection's transport.
TRANSPORT_EXTENSION = "madoguchi.transport"


class TransportProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets (sans-I/O) protocol, exposing the TCP transport to the app
    in ``scope["extensions"]["madoguchi.transport"]["transport"]`` so that a client
    that is dropped can have its connection aborted (ASGI has no message for that).
    ``madoguchi serve`` runs uvicorn with it; under another server the app closes
    politely and leaves the socket to that server."""

    def handle_connect(self, event: Request) -> None:
        """Accept as uvicorn does, then add the transport to the new scope."""
        super().handle_connect(event)
        if self.response.status_code == 101:
            self.scope["extensions"][TRANSPORT_EXTENSION] = {"transport": self.transport}


def _transport(websocket: WebSocket) -> asyncio.Transport | None:
    """The transport :class:`TransportProtocol` exposed (asyncio's or uvloop's, which
    does not derive from asyncio's classes), or ``None``."""
    extension = websocket.scope.get("extensions", {}).get(TRANSPORT_EXTENSION) or {}
    transport = extension.get("transport")
    if all(hasattr(transport, name) for name in ("abort", "is_closing", "get_extra_info")):
        return cast(asyncio.Transport, transport)
    return None


def abort(websocket: WebSocket) -> bool:
    """Reset ``websocket``'s TCP connection at once, discarding what is queued for it
    (``SO_LINGER`` 0, then abort: a plain close would keep the socket until the
    client read its backlog). False when the transport is not exposed."""
    transport = _transport(websocket)
    if transport is None:
        return False
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    return True


def _closing(websocket: WebSocket) -> bool:
    transport = _transport(websocket)
    return transport is None or transport.is_closing()


def _origin(url: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an origin or URL, with the default port filled in."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port or (443 if parts.scheme == "https" else 80)


def origin_allowed(websocket: WebSocket, services: Services) -> bool:
    """Whether a handshake may go on (issue 13 point 8). A browser page from another
    origin must not use the session cookie: a request that would authenticate by the
    cookie and carries an ``Origin`` other than the server's own (the scheme and
    ``Host`` of the request), ``public_url``'s or one of ``allowed_origins`` is
    refused. No ``Origin`` (agents, scripts), a bearer header or no cookie: allowed."""
    origin = websocket.headers.get("origin")
    if origin is None or websocket.headers.get("authorization", "").lower().startswith("bearer "):
        return True
    if COOKIE not in websocket.cookies:
        return True
    scheme = "https" if websocket.url.scheme == "wss" else "http"
    own = [f"{scheme}://{websocket.headers.get('host', '')}", services.public_url,
           *services.settings.allowed_origins]
    allowed = {_origin(o) for o in own if o.strip()} - {None}
    return _origin(origin) in allowed


def _keys(principal: Principal) -> frozenset[str]:
    """What :meth:`Hub.revoke` may name to end this principal's privileges."""
    return frozenset(k for k in (principal.token_hash, principal.id) if k)


class Connection:
    """One client's socket: reader, writer, heartbeat and credential check around a
    :class:`Subscriber`. Each client may send ``ws_rate`` messages a second (a
    token bucket of ``ws_burst``) and hold ``ws_max_topics`` topics; a client that
    keeps sending past its rate is closed (1008), one that falls behind is closed
    (1013), one whose credentials end is closed (4401)."""

    def __init__(self, websocket: WebSocket, services: Services) -> None:
        self.ws = websocket
        self.services = services
        settings = services.settings
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=settings.ws_queue_size)
        self.ended = asyncio.Event()
        self.end: tuple[int, str] | None = None
        self.last_sent = 0.0
        self.principal: Principal = ANONYMOUS
        self.token: str | None = None
        self.sub = Subscriber(self._put, self._dropped, on_revoke=self._revoked)
        self.tokens = float(settings.ws_burst)
        self.refused = 0
        self.filled_at = 0.0

    def _put(self, text: str) -> bool:
        try:
            self.queue.put_nowait(text)
            return True
        except asyncio.QueueFull:
            return False

    def _finish(self, code: int, reason: str) -> None:
        if self.end is None:
            self.end = (code, reason)
        self.ended.set()

    def _dropped(self) -> None:
        self._finish(1013, "too slow; reconnect with since")

    def _revoked(self) -> None:
        # Nothing queued under the old credentials goes out any more.
        while not self.queue.empty():
            self.queue.get_nowait()
        self._finish(4401, "signed out, expired or revoked")

    def _become(self, principal: Principal) -> list[str]:
        """Act as ``principal`` from now on; returns the topics it may not read, dropped."""
        self.principal = principal
        self.sub.staff = principal.may_read_staff_topic()
        self.sub.keys = _keys(principal)
        dropped = sorted(t for t in self.sub.topics if not self._may_read(t))
        self.services.hub.unsubscribe(self.sub, dropped)
        return dropped

    async def run(self) -> None:
        """Serve the connection until the client leaves or is closed."""
        hub = self.services.hub
        if not origin_allowed(self.ws, self.services):
            log.warning("refused a WebSocket with the session cookie from origin %.80r", self.ws.headers.get("origin"))
            await self.ws.close(code=1008)  # before accept: the handshake is answered 403
            return
        self.token = bearer(self.ws.headers, self.ws.cookies)
        self._become(await self.services.auth.resolve(self.token))
        await self.ws.accept()
        self.filled_at = asyncio.get_running_loop().time()
        hub.add(self.sub)
        tasks = [asyncio.create_task(self._reader()), asyncio.create_task(self._writer()),
                 asyncio.create_task(self._heartbeat()), asyncio.create_task(self._recheck()),
                 asyncio.create_task(self.ended.wait())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            hub.remove(self.sub)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if self.end is not None:
            code, reason = self.end
            if code == 1013:
                log.warning("dropped a WebSocket client that fell behind (%d queued)", self.queue.qsize())
            await self._close(code, reason)

    async def _close(self, code: int, reason: str) -> None:
        """Close with ``code``; if the client has not answered within
        :data:`CLOSE_GRACE_S` (it stopped reading), reset the TCP connection, so that
        neither the socket nor its send queue outlive the drop (issue 13 point 11)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CLOSE_GRACE_S
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(code=code, reason=reason), CLOSE_GRACE_S)
        transport = _transport(self.ws)
        if code == 1008 and transport is not None and not transport.is_closing():
            # A flooder's messages keep coming after the close: stop reading (and parsing) them.
            transport.pause_reading()
        while not _closing(self.ws) and loop.time() < deadline:
            await asyncio.sleep(0.05)
        if not _closing(self.ws):
            abort(self.ws)

    async def _writer(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            text = await self.queue.get()
            await self.ws.send_text(text)
            self.last_sent = loop.time()

    async def _heartbeat(self) -> None:
        # A heartbeat goes out once nothing has been sent for ws_heartbeat_s, so the client never
        # waits longer than that for a message (screens call 5 s of silence a lost connection).
        # Waking on a fixed cycle instead let a message just before a wake-up stretch the
        # silence to almost twice the period.
        loop = asyncio.get_running_loop()
        period = self.services.settings.ws_heartbeat_s
        self.last_sent = max(self.last_sent, loop.time())
        while True:
            idle = loop.time() - self.last_sent
            if idle < period:
                await asyncio.sleep(period - idle)
                continue
            self.sub.offer(self.services.hub.heartbeat())
            await asyncio.sleep(period)

    async def _recheck(self) -> None:
        """Re-read the credentials every :data:`RECHECK_S`: a session that expired (or
        ended where :meth:`Hub.revoke` was not told) ends the privileges it gave."""
        while True:
            await asyncio.sleep(RECHECK_S)
            token = self.token
            if token is None or self.principal.kind == "anonymous":
                continue
            principal = await self.services.auth.resolve(token)
            if token != self.token or principal == self.principal:
                continue
            if principal.kind == "anonymous":
                self.sub.revoke()
                return
            self._become(principal)

    def _allow(self) -> bool:
        """One message against the token bucket (``ws_rate`` a second, ``ws_burst`` deep)."""
        settings = self.services.settings
        now = asyncio.get_running_loop().time()
        self.tokens = min(float(settings.ws_burst), self.tokens + (now - self.filled_at) * settings.ws_rate)
        self.filled_at = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.refused = 0
            return True
        self.refused += 1
        return False

    async def _reader(self) -> None:
        settings = self.services.settings
        limit = settings.ws_max_message_bytes
        while not self.ended.is_set():
            try:
                message = await self.ws.receive()
            except WebSocketDisconnect:
                return
            if message["type"] == "websocket.disconnect":
                return
            if not self._allow():
                if self.refused >= settings.ws_burst:
                    log.warning("closed a WebSocket client that kept sending past its rate")
                    self._finish(1008, "too many messages")
                    return
                self.sub.offer(_error(None, ApiError(
                    "rate_limited", f"at most {settings.ws_rate:g} messages a second; this one was ignored")))
                continue
            raw = message.get("text")
            if raw is None:
                data = message.get("bytes") or b""
                size = len(data)
                raw = data.decode("utf-8", "replace") if size <= limit else ""
            else:
                # Characters are 1 to 4 bytes in UTF-8: encode only when the count is in doubt.
                size = len(raw) if len(raw) * 4 <= limit else len(raw.encode("utf-8", "surrogatepass"))
            if size > limit:
                self.sub.offer(_error(None, ApiError("message_too_large", f"messages are limited to {limit} bytes")))
                continue
            await self._handle(raw)
            await asyncio.sleep(0)  # one client's backlog never holds the loop

    async def _handle(self, raw: str) -> None:
        msg_id = None
        try:
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise ApiError("malformed_json", "the message is not valid JSON") from None
            if not isinstance(data, dict):
                raise ApiError("invalid_request", "a message must be a JSON object")
            msg_id = data.get("id")
            try:
                msg = Message.validate_python(data)
            except ValidationError as exc:
                raise ApiError("invalid_request", "the message has errors", validation_details(exc.errors())) from None
            result = await self._dispatch(msg)
            if result is not None:
                self.sub.offer(dumps({"type": "result", "id": msg.id, "result": result}))
        except ApiError as err:
            self.sub.offer(_error(msg_id, err))
        except Exception:
            log.exception("WebSocket message failed")
            message = "something went wrong on the server; it has been logged"
            self.sub.offer(_error(msg_id, ApiError("internal_error", message)))

    async def _dispatch(self, msg: Any) -> dict[str, Any] | None:
        services = self.services
        if isinstance(msg, PingMsg):
            return {"pong": True, "seq": services.hub.seq}
        if isinstance(msg, AuthMsg):
            principal = await services.auth.resolve(msg.token)
            if principal.kind == "anonymous":
                raise ApiError("unauthenticated", "unknown or expired token")
            if self.ended.is_set():
                return None
            self.token = msg.token
            dropped = self._become(principal)
            return {"kind": principal.kind, "dropped": dropped}
        if isinstance(msg, UnsubscribeMsg):
            services.hub.unsubscribe(self.sub, msg.topics)
            return {"topics": sorted(self.sub.topics | {f"ticket:{t}" for t in self.sub.tokens})}
        floor = services.processor.current_floor()
        topics = list(dict.fromkeys(msg.topics))
        for topic in topics:
            self._check_topic(topic, floor)
        held = self.sub.topics | {f"ticket:{t}" for t in self.sub.tokens}
        cap = services.settings.ws_max_topics
        if len(held | set(topics)) > cap:
            raise ApiError("too_many_topics", f"a connection may hold at most {cap} topics; unsubscribe some first")
        if msg.id is not None:
            self.sub.offer(
                dumps({"type": "result", "id": msg.id, "result": {"seq": services.hub.seq, "topics": topics}})
            )
        services.hub.subscribe(self.sub, topics, msg.since, floor, services.clock())
        return None

    def _may_read(self, topic: str) -> bool:
        """Whether the current principal may hold ``topic`` (a known one)."""
        kind, _, ident = topic.partition(":")
        if topic == "staff":
            return self.sub.staff
        if kind == "printer":
            principal = self.principal
            agent = principal.device_kind == "printer" and principal.id is not None
            return self.sub.staff or (agent and self.services.printing.printer_of(principal.id or "") == ident)
        return True

    def _check_topic(self, topic: str, floor: Floor) -> None:
        kind, _, ident = topic.partition(":")
        if topic == "office":
            return
        if topic == "staff":
            if not self._may_read(topic):
                raise ApiError("forbidden", "the staff topic needs staff or a paired display")
            return
        if kind == "queue" and ident in floor.layout.queues:
            return
        if kind == "counter" and ident in floor.layout.counters:
            return
        if kind == "printer" and ident in self.services.printing.workers:
            if self._may_read(topic):
                return
            raise ApiError("forbidden", "a printer's topic needs staff, a display or that printer's agent")
        if kind == "ticket" and TOKEN_RE.match(ident):
            if floor.ticket_by_token(ident) is None:
                raise ApiError("not_found", "no such ticket today")
            return
        raise ApiError("unknown_topic", f"no topic {topic[:80]!r}")


async def websocket_endpoint(websocket: WebSocket) -> None:
    """``/ws`` (see the module doc)."""
    await Connection(websocket, websocket.app.state.services).run()
