"""Alembic's environment for madoguchi's schema (run by :mod:`server.storage.migrate`).

madoguchi runs Alembic on a connection it has already opened (async engine,
``run_sync``), handed over in ``config.attributes["connection"]`` inside one
transaction. When Alembic's own command line runs this file instead, the URL
comes from ``sqlalchemy.url`` and an async engine is made here (Alembic's
async pattern). Batch mode renders ALTERs SQLite can run (copy and move);
on PostgreSQL the same operations are plain ALTERs.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import async_engine_from_config

from server.storage.schema import metadata

config = context.config


def run(connection: Connection) -> None:
    """Run the migrations (or the stamp, or autogenerate's compare) on ``connection``."""
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_on_own_engine() -> None:
    """For Alembic's command line: open ``sqlalchemy.url`` with an async engine and run."""
    engine = async_engine_from_config(config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.",
                                      poolclass=pool.NullPool)
    async with engine.begin() as connection:
        await connection.run_sync(run)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    given = config.attributes.get("connection")
    if given is not None:
        run(given)
    else:
        asyncio.run(run_on_own_engine())
