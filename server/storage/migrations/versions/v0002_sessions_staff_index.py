"""Index sessions by staff member.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

Changing or resetting a password (``PUT /api/staff/{id}/password``,
``madoguchi admin reset-password``) ends that person's sessions with
``DELETE FROM sessions WHERE staff_id = …``. Every sign-in adds a row that is
kept after it expires, so without this index each such delete reads the
whole table (25 counters signing in daily: tens of thousands of rows a year).
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``ix_sessions_staff`` (a plain CREATE INDEX: no ALTER TABLE, so no batch mode needed on SQLite)."""
    op.create_index("ix_sessions_staff", "sessions", ["staff_id"])


def downgrade() -> None:
    """Drop ``ix_sessions_staff``."""
    op.drop_index("ix_sessions_staff", table_name="sessions")
