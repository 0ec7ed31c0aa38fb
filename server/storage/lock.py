"""One server per data directory: an exclusive lock held for the life of the process.

Two servers on one SQLite file each number events from their own counter, so
the second to write collides with the first on every write (issue 13, point 9).
``madoguchi serve`` therefore takes an exclusive ``flock(2)`` on
``<data dir>/madoguchi.lock`` (and on ``<database file>.lock`` for SQLite)
before it opens the database, and holds it until the process ends; the
kernel lets go of it when the process dies, even by ``kill -9``, so a stale
lock file never blocks a restart. The file holds the holder's pid,
which the refusal names. Child processes (exports) do not inherit it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

LOCK_NAME = "madoguchi.lock"


class StorageLocked(Exception):
    """Another process holds the lock at ``path`` (``pid`` when it wrote one)."""

    def __init__(self, path: Path, pid: int | None) -> None:
        held = f"process {pid}" if pid else "another process"
        super().__init__(f"{path} is locked by {held}: another madoguchi server uses this data directory "
                         "or database (stop it, or give this one another --data-dir/--db)")
        self.path = path
        self.pid = pid


class StorageUnusable(Exception):
    """The data directory or the database cannot be written: ``str()`` names the path and the cause."""

    def __init__(self, path: Path | str, cause: str) -> None:
        super().__init__(f"{path}: {cause}")
        self.path = str(path)
        self.cause = cause


def os_cause(exc: OSError) -> str:
    """A short cause for people from an ``OSError`` (read-only, full, permissions…), without paths."""
    return STORAGE_ERRNOS.get(exc.errno or 0, exc.strerror or type(exc).__name__)


#: errno → cause, for the errors that mean the storage cannot be written.
STORAGE_ERRNOS = {
        errno.EROFS: "the file system is read-only",
        errno.ENOSPC: "no space left on the disk",
        errno.EDQUOT: "the disk quota is used up",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.ENOTDIR: "a file is in the way where a folder should be",
        errno.EEXIST: "a file is in the way where a folder should be",
        errno.EIO: "disk I/O error",
}


@dataclass
class _Held:
    fd: int
    count: int


_HELD: dict[Path, _Held] = {}


class DirLock:
    """A held lock; :meth:`release` gives it back (once per :func:`hold`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._released = False

    def release(self) -> None:
        """Give back this hold; the file is unlocked once every hold in the process is given back."""
        if self._released:
            return
        self._released = True
        held = _HELD.get(self.path)
        if held is None:
            return
        held.count -= 1
        if held.count == 0:
            del _HELD[self.path]
            with contextlib.suppress(OSError):
                os.close(held.fd)  # closing the descriptor releases the flock


def _holder(fd: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text else None
    return None


def hold(path: Path) -> DirLock:
    """Lock ``path`` (a lock file, created if missing) for this process.

    Re-entrant within one process (the CLI and the app's lifespan both hold it).
    Raises :class:`StorageLocked` when another process holds it and
    :class:`StorageUnusable` when the file cannot be made or written (read-only
    or full disk, permissions, a file where the folder should be).
    """
    path = path.absolute()
    held = _HELD.get(path)
    if held is not None:
        held.count += 1
        return DirLock(path)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise StorageUnusable(path, os_cause(exc)) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _holder(fd)
        os.close(fd)
        raise StorageLocked(path, pid) from None
    except OSError as exc:
        os.close(fd)
        raise StorageUnusable(path, os_cause(exc)) from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        os.fsync(fd)
    except OSError as exc:
        os.close(fd)
        raise StorageUnusable(path, os_cause(exc)) from None
    _HELD[path] = _Held(fd, 1)
    return DirLock(path)


def lock_paths(data_dir: Path, sqlite_file: str | None) -> list[Path]:
    """The lock files of a server: ``<data_dir>/madoguchi.lock``, and
    ``<file>.lock`` beside a SQLite database (so that two servers with
    different data directories but one ``--db`` file refuse as well)."""
    paths = [data_dir.absolute() / LOCK_NAME]
    if sqlite_file is not None and Path(sqlite_file).absolute().parent.is_dir():  # else the database says why
        db = Path(sqlite_file).absolute()
        paths.append(db.with_name(db.name + ".lock"))
    return paths


def hold_all(data_dir: Path, sqlite_file: str | None) -> list[DirLock]:
    """:func:`hold` each of :func:`lock_paths`, creating ``data_dir`` first.
    Raises as :func:`hold` (:class:`StorageUnusable` also when ``data_dir``
    cannot be made); on a refusal nothing stays held."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageUnusable(data_dir.absolute(), os_cause(exc)) from None
    if not data_dir.is_dir():
        raise StorageUnusable(data_dir.absolute(), "a file is in the way where a folder should be")
    locks: list[DirLock] = []
    try:
        for path in lock_paths(data_dir, sqlite_file):
            locks.append(hold(path))
    except BaseException:
        for lock in locks:
            lock.release()
        raise
    return locks
