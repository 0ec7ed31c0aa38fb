"""Storage at start and while running (issue 13, points 9, 12 and 16's health part).

A second server on one data directory or one SQLite file refuses to start
(exit 4, naming the lock and the holder's pid); a read-only or full data
directory, a file where it should be, or a file that is not SQLite where the
database should be is refused in one line naming the path and the cause
(exit 3); a full disk while running makes ``/api/health`` say so until a
write succeeds again; anonymous health says only the status.

Read-only and full disks are real: small tmpfs mounts (root only; tests run
as root here, where chmod would not stop a write). Without mount they skip.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .serverkit import ServerProcess, admin, bearer, clerk


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server.cli", "serve", "--port", "0", *args],
                          capture_output=True, text=True, timeout=60)


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    """The refusal: one line on stderr, no traceback."""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("madoguchi: error: "), done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    return lines[0]


@contextlib.contextmanager
def tmpfs(where: Path, size: str, *options: str) -> Iterator[Path]:
    """A small tmpfs at ``where``; skips the test when this machine cannot mount."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    opts = ",".join((f"size={size}", *options))
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def remount(where: Path, option: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{option}", str(where)], check=True)


def fill(disk: Path) -> Path:
    """Fill ``disk`` to the last byte with one file (returned, to free the space again)."""
    blob = disk / f"fill-{uuid.uuid4().hex}"
    subprocess.run(["dd", "if=/dev/zero", f"of={blob}", "bs=4k"], capture_output=True, check=False)
    assert os.statvfs(disk).f_bavail == 0
    return blob


async def test_a_second_server_on_the_same_data_directory_or_database_refuses_to_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = ServerProcess(data).start()
    try:
        done = serve("--data-dir", str(data))
        assert done.returncode == 4
        line = one_line_error(done)
        assert str(data / "madoguchi.lock") in line and f"process {first.pid}" in line
        # Another data directory but the same SQLite file: refused as well.
        database = data / "madoguchi.sqlite3"
        done = serve("--data-dir", str(tmp_path / "other"), "--db", f"sqlite+aiosqlite:///{database}")
        assert done.returncode == 4
        line = one_line_error(done)
        assert f"{database}.lock" in line and f"process {first.pid}" in line
        # The first server is untouched and writes on.
        async with httpx.AsyncClient(base_url=first.url, timeout=10) as client:
            await clerk(client, await admin(client), "lock-clerk", counter="4")
            r = await client.post("/api/tickets", json={"queue": "shomei"}, headers=bearer(first.kiosk))
            assert r.status_code == 201, r.text
        async with httpx.AsyncClient(base_url=first.url, timeout=10) as anonymous:
            assert (await anonymous.get("/api/health")).json() == {"status": "ok"}
    finally:
        first.stop()
    # The lock goes with the process (here SIGKILL): the next start is not blocked by a stale file.
    second = ServerProcess(data).start()
    second.kill9()
    ServerProcess(data).start().stop()


def test_a_file_where_the_data_directory_or_the_database_should_be_is_refused_in_one_line(tmp_path: Path) -> None:
    in_the_way = tmp_path / "data"
    in_the_way.write_text("not a folder")
    done = serve("--data-dir", str(in_the_way))
    assert done.returncode == 3
    line = one_line_error(done)
    assert str(in_the_way) in line and "a file is in the way where a folder should be" in line

    data = tmp_path / "data2"
    data.mkdir()
    (data / "madoguchi.sqlite3").write_text("minutes of the 2026-04-01 meeting\n" * 100, encoding="utf-8")
    done = serve("--data-dir", str(data))
    assert done.returncode == 3
    line = one_line_error(done)
    assert str(data / "madoguchi.sqlite3") in line and "not a SQLite database" in line
    assert (data / "madoguchi.sqlite3").read_text(encoding="utf-8").startswith("minutes")  # left as it was


def test_a_read_only_data_directory_is_refused_in_one_line(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "2m") as disk:
        # A data directory that exists, with a database a server made, on a disk mounted read-only since.
        data = disk / "data"
        made = ServerProcess(data).start()
        made.stop()
        remount(disk, "ro")
        done = serve("--data-dir", str(data))
        assert done.returncode == 3
        line = one_line_error(done)
        assert str(data) in line and "read-only" in line
        # A data directory still to be made there.
        done = serve("--data-dir", str(disk / "new"))
        assert done.returncode == 3
        line = one_line_error(done)
        assert str(disk / "new") in line and "read-only" in line


def test_a_full_disk_at_start_is_refused_in_one_line(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "full", "2m") as disk:
        fill(disk)
        done = serve("--data-dir", str(disk / "data"))
        assert done.returncode == 3
        line = one_line_error(done)
        assert str(disk / "data") in line and ("full" in line or "no space" in line)


async def test_a_disk_that_fills_while_running_shows_in_health_until_a_write_succeeds(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "4m") as disk:
        proc = ServerProcess(disk / "data").start()
        try:
            async with httpx.AsyncClient(base_url=proc.url, timeout=30) as staff, \
                    httpx.AsyncClient(base_url=proc.url, timeout=30) as anonymous:
                a = await admin(staff)
                await clerk(staff, a, "disk-clerk", counter="4")
                kiosk = bearer(proc.kiosk)
                r = await staff.post("/api/tickets", json={"queue": "shomei"}, headers=kiosk)
                assert r.status_code == 201
                assert (await anonymous.get("/api/health")).json() == {"status": "ok"}
                counted = (await staff.get("/api/health", headers=a)).json()
                assert counted["status"] == "ok" and counted["seq"] >= 2 and "ws_clients" in counted

                blob = fill(disk)
                statuses = []
                for _ in range(20):
                    r = await staff.post("/api/tickets", json={"queue": "shomei"}, headers=kiosk)
                    statuses.append(r.status_code)
                    if r.status_code == 503:
                        break
                assert statuses[-1] == 503 and r.json()["error"]["code"] == "storage_unavailable", statuses
                for client in (anonymous, staff):
                    health = await client.get("/api/health")
                    assert health.status_code == 503
                    error = health.json()["error"]
                    assert error["code"] == "storage_unavailable" and "the disk is full" in error["message"]
                    assert str(disk) not in error["message"]  # no paths on the wire
                # Still failing while nothing has been written since.
                assert (await anonymous.get("/api/health")).status_code == 503

                blob.unlink()
                r = await staff.post("/api/tickets", json={"queue": "shomei"}, headers=kiosk)
                assert r.status_code == 201, r.text
                assert (await anonymous.get("/api/health")).json() == {"status": "ok"}
        finally:
            proc.stop()
