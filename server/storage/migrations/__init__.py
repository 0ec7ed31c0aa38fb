"""Alembic migrations of the schema (:mod:`server.storage.migrate` runs them)."""
