"""An on-disk cache of closed business days' statistics, so an export reads the log only for new days.

A business day before today never changes: the log is append-only, and the
server writes events only for the day of its clock. So for each closed day
that has events, a run keeps in ``<data dir>/stats-cache``:

- the day's stages (:func:`stats.figures.stages`), in ``stages/``;
- its hourly and daily rows (:func:`stats.figures.measures`, unnamed) and its
  number of tickets, in a ``figures-<key>/`` folder per set of what the
  figures depend on besides the stages (queue → section, hand-over queues,
  target wait, section filter);
- a whole closed month's monthly rows, in the same folder.

Each file is named by the day's first and last event ``seq``
(:meth:`stats.source.Reader.marks`), read before the day's events: an event
added to a day later (a server whose clock was behind, a restored database)
changes its marks, so the old file is simply not found, and is replaced.
The whole cache sits in a folder named after the database and the cache's
format (:data:`VERSION`, Polars' version), so another database or a new
release never reads old files. Files are written under a temporary name
and renamed; a file that cannot be read counts as missing, and a file that
cannot be written is skipped (the export never fails for its cache).
Deleting the folder is always safe.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path

import polars as pl

#: Bump when what is stored, or how it is computed, changes.
VERSION = 2
#: Figure folders (one per set of parameters) kept, the most recently used.
KEEP_FIGURE_SETS = 8

log = logging.getLogger("madoguchi.stats")

Mark = tuple[int, int]


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


class DayCache:
    """The cache of one database (``db_uri``) under ``folder``; days before
    ``today`` (Asia/Tokyo business day) are closed and kept.

    ``parameters``: what the figures depend on besides the stages (plain
    JSON-able data); files of other parameters are in other folders.
    """

    def __init__(self, folder: Path, db_uri: str, today: date, parameters: object) -> None:
        self.today = today
        self.root = folder / f"v{VERSION}-{_digest([db_uri, pl.__version__])}"
        self.stages_dir = self.root / "stages"
        self.figures_dir = self.root / f"figures-{_digest(parameters)}"
        try:
            self.stages_dir.mkdir(parents=True, exist_ok=True)
            self.figures_dir.mkdir(exist_ok=True)
            os.utime(self.figures_dir)
            self._prune()
        except OSError as err:
            log.warning("statistics cache %s unusable: %s", folder, err)

    def closed(self, day: date) -> bool:
        """Whether ``day`` is before today (so it is kept)."""
        return day < self.today

    # ------------------------------------------------------------------ stages
    def stages(self, day: date, mark: Mark) -> pl.DataFrame | None:
        """The day's stages, or ``None`` when not kept (or unreadable)."""
        return self._read(self.stages_dir / _name(day, mark))

    def put_stages(self, day: date, mark: Mark, frame: pl.DataFrame) -> None:
        """Keep the stages of closed ``day``."""
        if self.closed(day):
            self._write(self.stages_dir, day.isoformat(), _name(day, mark), frame, {})

    # ------------------------------------------------------------------ figures
    def day_rows(self, day: date, mark: Mark) -> tuple[pl.DataFrame, int] | None:
        """The day's hourly and daily rows (column ``by``: ``hour``/``day``)
        and its number of tickets, or ``None``."""
        path = self.figures_dir / _name(day, mark)
        frame = self._read(path)
        if frame is None:
            return None
        try:
            return frame, int(pl.read_parquet_metadata(path)["issued"])
        except (OSError, KeyError, ValueError, pl.exceptions.PolarsError):
            return None

    def put_day_rows(self, day: date, mark: Mark, frame: pl.DataFrame, issued: int) -> None:
        """Keep closed ``day``'s rows (as :meth:`day_rows` gives them)."""
        if self.closed(day):
            self._write(self.figures_dir, day.isoformat(), _name(day, mark), frame, {"issued": str(issued)})

    def month_rows(self, month: date, marks: Iterable[Mark]) -> pl.DataFrame | None:
        """The monthly rows of the month of ``month`` when its days had ``marks``, or ``None``."""
        return self._read(self.figures_dir / _month_name(month, marks))

    def put_month_rows(self, month: date, marks: Iterable[Mark], frame: pl.DataFrame) -> None:
        """Keep a whole closed month's rows."""
        self._write(self.figures_dir, f"{month:%Y-%m}", _month_name(month, marks), frame, {})

    # ------------------------------------------------------------------ files
    def _read(self, path: Path) -> pl.DataFrame | None:
        try:
            return pl.read_parquet(path)
        except FileNotFoundError:
            return None
        except (OSError, pl.exceptions.PolarsError) as err:
            log.warning("statistics cache: %s unreadable (%s); recomputing", path.name, err)
            with contextlib.suppress(OSError):
                path.unlink()
            return None

    def _write(self, folder: Path, stem: str, name: str, frame: pl.DataFrame, metadata: dict[str, str]) -> None:
        """Write ``frame`` as ``folder/name`` atomically; drop the files of
        ``stem`` (the same day or month) with other marks."""
        tmp: str | None = None
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=folder)
            with os.fdopen(fd, "wb") as out:
                frame.write_parquet(out, metadata=metadata or None)
            os.replace(tmp, folder / name)
            tmp = None
            for old in folder.glob(f"{stem}_*.parquet"):
                if old.name != name:
                    old.unlink(missing_ok=True)
        except (OSError, pl.exceptions.PolarsError) as err:
            log.warning("statistics cache: %s not written (%s)", name, err)
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)

    def _prune(self) -> None:
        """Keep the :data:`KEEP_FIGURE_SETS` figure folders used last."""
        sets = sorted(self.root.glob("figures-*"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in sets[KEEP_FIGURE_SETS:]:
            shutil.rmtree(old, ignore_errors=True)


def _name(day: date, mark: Mark) -> str:
    return f"{day.isoformat()}_{mark[0]}_{mark[1]}.parquet"


def _month_name(month: date, marks: Iterable[Mark]) -> str:
    return f"{month:%Y-%m}_{_digest(sorted(marks))}.parquet"


def parameters(grouping: Mapping[str, object], target_s: float, sections: Iterable[str] | None) -> object:
    """What the figures depend on besides the stages, as :class:`DayCache` takes it."""
    return {"grouping": dict(grouping), "target_s": target_s,
            "sections": sorted(sections) if sections is not None else None}
