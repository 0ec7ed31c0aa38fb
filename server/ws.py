"""The WebSocket endpoint ``/ws``: subscriptions, snapshots, numbered events.

Client → server messages (JSON objects, at most ``ws_max_message_bytes``):

- ``{"type": "subscribe", "id": 1, "topics": ["office", "queue:shomei"], "since": 120}``
- ``{"type": "unsubscribe", "id": 2, "topics": ["queue:shomei"]}``
- ``{"type": "auth", "id": 3, "token": "…"}`` (or send ``Authorization: Bearer`` / the session cookie)
- ``{"type": "ping", "id": 4}``

Server → client: ``result`` and ``error`` (answers by ``id``), ``snapshot``,
``event`` (with ``queues``: the new status of the queues it touched),
``queue_status`` (after a resume), ``ticket_status`` and ``heartbeat``. A bad message
gets an error and the connection stays open (STYLE.md 4); a client that falls
behind is closed with code 1013 and reconnects with ``since``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import TYPE_CHECKING, Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect

from .api.registry import bearer
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


class Connection:
    """One client's socket: reader, writer and heartbeat tasks around a :class:`Subscriber`."""

    def __init__(self, websocket: WebSocket, services: Services) -> None:
        self.ws = websocket
        self.services = services
        settings = services.settings
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=settings.ws_queue_size)
        self.dropped = asyncio.Event()
        self.last_sent = 0.0
        self.principal: Principal = ANONYMOUS
        self.sub = Subscriber(self._put, self.dropped.set)

    def _put(self, text: str) -> bool:
        try:
            self.queue.put_nowait(text)
            return True
        except asyncio.QueueFull:
            return False

    async def run(self) -> None:
        """Serve the connection until the client leaves or is dropped."""
        hub = self.services.hub
        self.principal = await self.services.auth.resolve(bearer(self.ws.headers, self.ws.cookies))
        self.sub.staff = self.principal.may_read_staff_topic()
        await self.ws.accept()
        hub.add(self.sub)
        tasks = [asyncio.create_task(self._reader()), asyncio.create_task(self._writer()),
                 asyncio.create_task(self._heartbeat()), asyncio.create_task(self.dropped.wait())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            hub.remove(self.sub)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if self.dropped.is_set():
            log.warning("dropped a WebSocket client that fell behind (%d queued)", self.queue.qsize())
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(code=1013, reason="too slow; reconnect with since"), 2)

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

    async def _reader(self) -> None:
        limit = self.services.settings.ws_max_message_bytes
        while True:
            try:
                message = await self.ws.receive()
            except WebSocketDisconnect:
                return
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("text")
            if raw is None:
                raw = (message.get("bytes") or b"").decode("utf-8", "replace")
            if len(raw) > limit:
                self.sub.offer(_error(None, ApiError("message_too_large", f"messages are limited to {limit} bytes")))
                continue
            await self._handle(raw)

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
            self.principal = await services.auth.resolve(msg.token)
            if self.principal.kind == "anonymous":
                raise ApiError("unauthenticated", "unknown or expired token")
            self.sub.staff = self.principal.may_read_staff_topic()
            return {"kind": self.principal.kind}
        if isinstance(msg, UnsubscribeMsg):
            services.hub.unsubscribe(self.sub, msg.topics)
            return {"topics": sorted(self.sub.topics | {f"ticket:{t}" for t in self.sub.tokens})}
        floor = services.processor.current_floor()
        for topic in msg.topics:
            self._check_topic(topic, floor)
        if msg.id is not None:
            self.sub.offer(
                dumps({"type": "result", "id": msg.id, "result": {"seq": services.hub.seq, "topics": msg.topics}})
            )
        services.hub.subscribe(self.sub, msg.topics, msg.since, floor, services.clock())
        return None

    def _check_topic(self, topic: str, floor: Floor) -> None:
        kind, _, ident = topic.partition(":")
        if topic == "office":
            return
        if topic == "staff":
            if not self.sub.staff:
                raise ApiError("forbidden", "the staff topic needs staff or a paired display")
            return
        if kind == "queue" and ident in floor.layout.queues:
            return
        if kind == "counter" and ident in floor.layout.counters:
            return
        if kind == "printer" and ident in self.services.printing.workers:
            principal = self.principal
            agent = principal.device_kind == "printer" and principal.id is not None
            if self.sub.staff or (agent and self.services.printing.printer_of(principal.id or "") == ident):
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
