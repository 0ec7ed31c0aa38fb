"""Admission control: at most ``limit`` requests under a path prefix are being worked on at once;
the others wait their turn, first come first served (issue 14, point 6: "the floor's latency must
not suffer from citizens' traffic").

The floor and the citizens' side share one event loop. Two hundred citizens' requests in progress
at once put two hundred requests' worth of steps in the loop's queue ahead of each step of a clerk's
call (each database round trip is one), and the call reaches the screens hundreds of milliseconds
late; with a handful in progress, the call waits behind a handful. The citizens' requests take as
long overall (the server does the same work), and they are served in the order they came.

A turn covers the work, not the network: a request's body is received before it queues (up to
``max_body`` bytes: an attachment arrives at the pace of the citizen's connection, which no one
else should wait for), and its turn ends when its response starts (a slow reader holds nobody up).
A body announced as larger, or sent without a length and growing past ``max_body``, is passed on
without a turn (the route refuses such a body anyway).
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Admission:
    """ASGI middleware: HTTP requests whose path starts with ``prefix`` are worked on at most
    ``limit`` at a time (``limit`` ≤ 0: no limit); bodies up to ``max_body`` bytes are received
    first."""

    def __init__(self, app: ASGIApp, prefix: str, limit: int, max_body: int) -> None:
        self.app = app
        self.prefix = prefix
        self.limit = limit
        self.max_body = max_body
        self._turns: asyncio.Semaphore | None = None
        #: Requests waiting for their turn and in progress now (for tests and the health view).
        self.waiting = 0
        self.working = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Straight through for other paths; the body first, then a turn, for these."""
        if scope["type"] != "http" or self.limit <= 0 or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        received = await self._receive_body(scope, receive)
        if received is None:    # too large to hold: the route refuses it
            await self.app(scope, receive, send)
            return
        if received[-1]["type"] == "http.disconnect":   # gone before its body was in: nothing to answer
            return
        if self._turns is None:
            self._turns = asyncio.Semaphore(self.limit)
        turns = self._turns
        replay = iter(received)

        async def receive_again() -> Message:
            # The body as received, then whatever comes next (a disconnect).
            message = next(replay, None)
            return message if message is not None else await receive()

        held = False

        async def send_releasing(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start" and held:
                held = False
                self.working -= 1
                turns.release()
            await send(message)

        self.waiting += 1
        try:
            await turns.acquire()
        finally:
            self.waiting -= 1
        held = True
        self.working += 1
        try:
            await self.app(scope, receive_again, send_releasing)
        finally:
            if held:
                self.working -= 1
                turns.release()

    async def _receive_body(self, scope: Scope, receive: Receive) -> list[Message] | None:
        """The request's ``http.request`` messages up to the end of its body, or ``None`` (after
        nothing was read) when its ``Content-Length`` is over ``max_body`` or missing on a body."""
        length = next((v for k, v in scope.get("headers", []) if k == b"content-length"), None)
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            return None
        chunked = any(k == b"transfer-encoding" for k, _ in scope.get("headers", []))
        if length is None and chunked:
            return None
        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                return messages
