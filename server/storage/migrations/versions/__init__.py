"""Revisions, oldest first: ``v0001_first`` is the schema as it stood when Alembic came."""
