"""A WebSocket display client for tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect


class Display:
    """A connected client that collects every message."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.messages: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, url: str, headers: dict[str, str] | None = None, **kw: Any) -> Display:
        return cls(await connect(url, additional_headers=headers or {}, **kw))

    async def send(self, msg: dict[str, Any] | str | bytes) -> None:
        await self.ws.send(msg if isinstance(msg, (str, bytes)) else orjson.dumps(msg).decode())

    async def next(self, timeout: float = 5) -> dict[str, Any]:
        msg: dict[str, Any] = orjson.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        self.messages.append(msg)
        return msg

    async def until(self, pred: Callable[[dict[str, Any]], bool], timeout: float = 5) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            msg = await self.next(max(0.01, deadline - loop.time()))
            if pred(msg):
                return msg

    async def drain(self, quiet: float = 0.3) -> list[dict[str, Any]]:
        out = []
        try:
            while True:
                out.append(await self.next(quiet))
        except TimeoutError:
            return out

    async def close(self) -> None:
        await self.ws.close()
