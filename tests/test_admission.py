"""Citizens' requests take turns (server/admission.py): at most N are worked on at once, in the order
they came; a body is received before its request queues and a turn ends when the response starts;
other paths never wait. Driven as ASGI, with a real server's answer for the wiring."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from starlette.types import Message

from online_forms.citizen_api import MAX_UPLOAD
from server.admission import Admission
from server.app import create_app
from server.settings import Settings

from .serverkit import ServerProcess


class Probe:
    """An ASGI app that records how many requests it works on at once and what body each got;
    each holds its turn until ``release`` is set, then answers and goes on working a little."""

    def __init__(self) -> None:
        self.busy = 0
        self.most = 0
        self.order: list[str] = []
        self.bodies: dict[str, bytes] = {}
        self.release = asyncio.Event()
        self.after_start = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.busy += 1
        self.most = max(self.most, self.busy)
        self.order.append(scope["path"])
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies[scope["path"]] = body
        await self.release.wait()
        self.busy -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        self.after_start += 1
        await asyncio.sleep(0.01)         # work after the response started: no longer holding a turn
        await send({"type": "http.response.body", "body": b"ok"})


def scope(path: str, length: int | None = None) -> dict[str, Any]:
    headers = [(b"content-length", str(length).encode())] if length is not None else []
    return {"type": "http", "method": "POST", "path": path, "headers": headers}


def chunks(*parts: bytes) -> Any:
    """A receive() giving ``parts`` one by one (a slow upload), then a disconnect."""
    queue = [{"type": "http.request", "body": p, "more_body": i < len(parts) - 1} for i, p in enumerate(parts)]

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(0.005)
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    return receive


async def test_at_most_n_at_once_in_order_with_their_whole_bodies() -> None:
    probe = Probe()
    gate = Admission(probe, "/apply/api/", limit=2, max_body=1000)
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    calls = [asyncio.create_task(gate(scope(f"/apply/api/{i}", 6), chunks(b"abc", b"def"), send)) for i in range(6)]
    await asyncio.sleep(0.1)
    assert probe.busy == 2 and gate.waiting == 4 and gate.working == 2
    # Another path is never held back.
    other = asyncio.create_task(gate(scope("/api/counters/1/call-next"), chunks(b""), send))
    await asyncio.sleep(0.05)
    assert probe.busy == 3 and "/api/counters/1/call-next" in probe.order
    probe.release.set()
    await asyncio.gather(*calls, other)
    assert probe.most <= 3 and gate.working == 0 and gate.waiting == 0
    assert [p for p in probe.order if p.startswith("/apply")] == [f"/apply/api/{i}" for i in range(6)]
    assert all(probe.bodies[f"/apply/api/{i}"] == b"abcdef" for i in range(6))
    assert sum(m["type"] == "http.response.body" for m in sent) == 7


async def test_a_turn_ends_when_the_response_starts_and_a_body_too_large_is_passed_on() -> None:
    probe = Probe()
    probe.release.set()
    gate = Admission(probe, "/apply/api/", limit=1, max_body=4)

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            await asyncio.sleep(0.2)    # a slow reader

    started = asyncio.get_running_loop().time()
    await asyncio.gather(*(gate(scope(f"/apply/api/{i}", 0), chunks(b""), send) for i in range(4)))
    # Four one at a time, each slow to read (0.2 s): the turns did not wait for the readers (0.8 s).
    assert asyncio.get_running_loop().time() - started < 0.6
    # Too large to hold: straight to the route (which refuses it), unread and without a turn.
    await gate(scope("/apply/api/big", 10), chunks(b"0123456789"), send)
    assert probe.bodies["/apply/api/big"] == b"0123456789" and gate.working == 0
    # Gone before its body was in: nothing reaches the route.
    gone: list[Message] = [{"type": "http.request", "body": b"ab", "more_body": True}, {"type": "http.disconnect"}]

    async def receive() -> Message:
        return gone.pop(0)

    await gate(scope("/apply/api/gone", 4), receive, send)
    assert "/apply/api/gone" not in probe.order


def test_the_server_lets_citizens_take_turns(tmp_path: Any) -> None:
    """The real app has the gate on the citizens' API only, and a real server answers forty at once."""
    app = create_app(Settings(data_dir=tmp_path / "data"))
    [gate] = [m for m in app.user_middleware if m.cls is Admission]  # type: ignore[comparison-overlap]
    assert gate.kwargs == {"prefix": "/apply/api/", "limit": Settings().apply_concurrency, "max_body": MAX_UPLOAD}
    assert Settings().apply_concurrency >= 1
    server = ServerProcess(tmp_path / "data").start()
    try:
        async def many() -> list[int]:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                answers = await asyncio.gather(*(http.get("/apply/api/procedures/inu-toroku") for _ in range(40)))
                return [a.status_code for a in answers]

        assert asyncio.run(many()) == [200] * 40
    finally:
        server.stop()
