"""Schema migrations (Alembic): which revision a database is at, and bringing it to the head.

The revisions live in :mod:`server.storage.migrations.versions` (inside the
package, so an installed wheel has them); revision ``0001`` is the schema as
it stood when Alembic came. A database is in one of these states
(:class:`SchemaState`):

- empty (no tables): created at the head from :data:`server.storage.schema.metadata`
  and stamped (Alembic's "building an up to date database from scratch");
- pre-Alembic (every table of ``0001``, no ``alembic_version``): treated as ``0001``,
  which an upgrade stamps first; but one that already matches the models (made with
  ``metadata.create_all``, e.g. by a benchmark) is at the head and only gets the stamp;
- behind the head: :func:`prepare` upgrades it only when allowed
  (``MADOGUCHI_AUTO_UPGRADE``), else raises :class:`SchemaOutOfDate`, whose
  message names ``madoguchi db upgrade``;
- at a revision this code does not know (a newer madoguchi's) or holding
  tables that are not madoguchi's: :class:`SchemaError`.

Everything runs in one transaction on a short-lived engine of its own: on
SQLite that engine issues ``BEGIN IMMEDIATE`` itself, because the sqlite3
module would otherwise commit DDL statement by statement (SQLAlchemy's
"Serializable isolation / Savepoints / Transactional DDL" recipe), so a
failed upgrade leaves the database as it was on both SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import errno
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import event as sa_event
from sqlalchemy import inspect, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from . import schema

MIGRATIONS = Path(__file__).with_name("migrations")
#: The first revision: the schema as it stood before Alembic.
FIRST = "0001"
#: The tables of revision ``0001``: a database with all of them and no
#: ``alembic_version`` table was made before Alembic came.
FIRST_TABLES = frozenset({"events", "staff", "devices", "sessions", "audit", "print_jobs", "device_printers"})
VERSION_TABLE = "alembic_version"
UPGRADE_HINT = "madoguchi db upgrade"


class SchemaError(Exception):
    """The database cannot be used by this madoguchi; the message says why and what to do."""


class SchemaOutOfDate(SchemaError):
    """The database is at an older revision than this madoguchi's head."""


@dataclass(frozen=True, slots=True)
class SchemaState:
    """Where a database stands.

    ``current``: its revision (``0001`` for a pre-Alembic database, ``None``
    when empty); ``head``: this code's newest revision; ``legacy``: made before
    Alembic (no ``alembic_version`` table yet).
    """

    current: str | None
    head: str
    legacy: bool = False

    @property
    def empty(self) -> bool:
        """Whether the database has no tables at all."""
        return self.current is None

    @property
    def up_to_date(self) -> bool:
        """Whether it is at the head and stamped."""
        return self.current == self.head and not self.legacy


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for the packaged migrations, running on ``connection``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("file_template", "v%%(rev)s_%%(slug)s")  # module names mypy accepts
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """This code's newest revision."""
    found = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert found is not None, "no revisions in " + str(MIGRATIONS)
    return found


def revisions() -> list[str]:
    """Every revision, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def state_of(connection: Connection) -> SchemaState:
    """Where the database on ``connection`` stands (synchronous; run it with ``run_sync``).

    Raises :class:`SchemaError` for a revision this code does not know, or tables
    that are neither madoguchi's first revision nor stamped.
    """
    newest = head()
    tables = set(inspect(connection).get_table_names())
    if VERSION_TABLE not in tables:
        if not tables:
            return SchemaState(None, newest)
        if FIRST_TABLES <= tables:
            matches = not compare_metadata(MigrationContext.configure(connection), schema.metadata)
            return SchemaState(newest if matches else FIRST, newest, legacy=True)
        raise SchemaError(f"the database has tables madoguchi did not make ({', '.join(sorted(tables))}) "
                          "and no schema revision; give madoguchi an empty database or one of its own")
    current = MigrationContext.configure(connection).get_current_revision()
    if current is None:
        if tables == {VERSION_TABLE}:
            return SchemaState(None, newest)
        raise SchemaError(f"the database's {VERSION_TABLE} table is empty; it cannot be upgraded safely")
    try:
        ScriptDirectory.from_config(alembic_config()).get_revision(current)
    except CommandError:
        raise SchemaError(f"the database is at schema revision {current}, which this madoguchi does not know "
                          f"(its newest is {newest}): it was upgraded by a newer madoguchi; run that version") from None
    return SchemaState(current, newest)


def _to_head(connection: Connection, state: SchemaState) -> None:
    cfg = alembic_config(connection)
    if state.empty:
        schema.metadata.create_all(connection)
        command.stamp(cfg, "head")
        return
    if state.legacy:
        command.stamp(cfg, state.current or FIRST)
    command.upgrade(cfg, "head")


def _prepare(connection: Connection, upgrade: bool, create: bool) -> tuple[SchemaState, SchemaState]:
    before = state_of(connection)
    if before.up_to_date:
        return before, before
    if before.empty and not create:
        raise SchemaError("the database is empty: start `madoguchi serve` on it once first")
    if not before.empty and not upgrade and before.current != before.head:
        legacy = " (made before migrations)" if before.legacy else ""
        raise SchemaOutOfDate(
            f"the database is at schema revision {before.current}{legacy}, "
            f"this madoguchi needs {before.head}: stop the server, back the database up and run "
            f"`{UPGRADE_HINT}` with the same --data-dir/--db (or set MADOGUCHI_AUTO_UPGRADE=true to upgrade at start)")
    _to_head(connection, before)
    return before, state_of(connection)


def _check_folder(url: str) -> None:
    """Raise ``FileNotFoundError`` when a SQLite file's folder does not exist (said plainly, and
    before aiosqlite's connect fails in its worker thread, which can outlive the event loop)."""
    if url.startswith("sqlite") and ":///" in url:
        folder = Path(url.split(":///", 1)[1]).parent
        if not folder.is_dir():
            raise FileNotFoundError(errno.ENOENT, "no such folder for the database", str(folder))


def migration_engine(url: str) -> AsyncEngine:
    """A short-lived engine for schema work: no pool, and on SQLite a real
    transaction around DDL (``BEGIN IMMEDIATE``, which also keeps other writers out)."""
    kwargs: dict[str, Any] = {"poolclass": pool.NullPool}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30}
    engine = create_async_engine(url, **kwargs)
    if url.startswith("sqlite"):
        @sa_event.listens_for(engine.sync_engine, "connect")
        def _autocommit_driver(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None   # the driver stops managing transactions ...

        @sa_event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # ... and SQLAlchemy's begin() opens one around everything
    return engine


async def prepare(url: str, *, upgrade: bool, create: bool = True) -> tuple[SchemaState, SchemaState]:
    """Make the database at ``url`` ready for this code: ``(before, after)``.

    An empty database is created at the head when ``create`` (else
    :class:`SchemaError`); one behind the head is upgraded when ``upgrade``,
    else :class:`SchemaOutOfDate` is raised and nothing is written. Raises
    :class:`SchemaError` as :func:`state_of`, and SQLAlchemy's errors when the
    database cannot be reached.
    """
    _check_folder(url)
    engine = migration_engine(url)
    try:
        async with engine.begin() as conn:
            return await conn.run_sync(_prepare, upgrade, create)
    finally:
        await engine.dispose()


async def migrate(url: str, target: str = "head") -> SchemaState:
    """Run the migrations from wherever the database is to ``target`` (a revision,
    ``head`` or ``base``; down as well as up), without the create-from-metadata
    shortcut. For tests and for making a database at an older revision."""

    def run(connection: Connection) -> SchemaState:
        state = state_of(connection)
        cfg = alembic_config(connection)
        if state.legacy:
            command.stamp(cfg, state.current or FIRST)
        current = state.current or "base"
        order = ["base", *revisions()]
        wanted = order[-1] if target == "head" else target
        if order.index(wanted) >= order.index(current):
            command.upgrade(cfg, wanted)
        else:
            command.downgrade(cfg, wanted)
        return state_of(connection)

    engine = migration_engine(url)
    try:
        async with engine.begin() as conn:
            return await conn.run_sync(run)
    finally:
        await engine.dispose()


def prepare_sync(url: str, *, upgrade: bool, create: bool = True) -> tuple[SchemaState, SchemaState]:
    """:func:`prepare` from synchronous code (the command line)."""
    return asyncio.run(prepare(url, upgrade=upgrade, create=create))
