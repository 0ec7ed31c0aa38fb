"""The back office's feed of applications: which procedures each back-office system
may read, what was delivered to it and what it acknowledged, and an index to find
submissions in order (issue 14, point 5; tables in ``online_forms/tables.py``).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the two back-office tables and the history index (nothing existing changes)."""
    op.create_index("ix_application_history_action", "application_history", ["action", "id"])
    op.create_table(
        "backoffice_scopes",
        sa.Column("device_id", sa.String(32), sa.ForeignKey("devices.id"), primary_key=True),
        sa.Column("procedure_id", sa.String(32), sa.ForeignKey("procedures.id"), primary_key=True),
    )
    op.create_table(
        "backoffice_deliveries",
        sa.Column("device_id", sa.String(32), sa.ForeignKey("devices.id"), primary_key=True),
        sa.Column("application_id", sa.String(32), sa.ForeignKey("applications.id"), primary_key=True),
        sa.Column("delivered_seq", sa.BigInteger, nullable=False),
        sa.Column("delivered_at_us", sa.BigInteger, nullable=False),
        sa.Column("acked_seq", sa.BigInteger),
        sa.Column("acked_at_us", sa.BigInteger),
    )


def downgrade() -> None:
    """Drop them (the delivery state with them: every application is offered again)."""
    op.drop_table("backoffice_deliveries")
    op.drop_table("backoffice_scopes")
    op.drop_index("ix_application_history_action", table_name="application_history")
