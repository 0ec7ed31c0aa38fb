"""Shared fixtures: one real server per test module where a module asks for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from .serverkit import ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A demo-office server (rehearsal mode) with low public rate limits."""
    proc = ServerProcess(tmp_path_factory.mktemp("server"), env={"MADOGUCHI_PUBLIC_RATE": "1000/minute"}).start()
    yield proc
    proc.stop()


@pytest.fixture
async def client(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
        yield c
