"""Online applications: procedures, form versions, applications and their
history, saved drafts and attachments (issue 14; tables in ``online_forms/tables.py``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the seven online-application tables (new tables only: nothing of the floor changes)."""
    op.create_table(
        "procedures",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("slug", sa.String(40), nullable=False, unique=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("section", sa.String(60), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("next_seq", sa.Integer, nullable=False),
        sa.Column("created_at_us", sa.BigInteger, nullable=False),
        sa.Column("updated_at_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "form_versions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("procedure_id", sa.String(32), sa.ForeignKey("procedures.id"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at_us", sa.BigInteger, nullable=False),
        sa.Column("requested_by", sa.String(64)),
        sa.Column("published_by", sa.String(64)),
        sa.Column("published_at_us", sa.BigInteger),
        sa.UniqueConstraint("procedure_id", "number", name="uq_form_versions_number"),
    )
    op.create_table(
        "applications",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("procedure_id", sa.String(32), sa.ForeignKey("procedures.id"), nullable=False),
        sa.Column("version_id", sa.String(32), sa.ForeignKey("form_versions.id"), nullable=False),
        sa.Column("reference", sa.String(40), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("answers", sa.Text, nullable=False),
        sa.Column("assignee", sa.String(32)),
        sa.Column("receipt_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("submission_key", sa.String(64), nullable=False, unique=True),
        sa.Column("submitted_at_us", sa.BigInteger, nullable=False),
        sa.Column("updated_at_us", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_applications_procedure_submitted", "applications", ["procedure_id", "submitted_at_us"])
    op.create_index("ix_applications_status", "applications", ["status"])
    op.create_table(
        "application_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("application_id", sa.String(32), sa.ForeignKey("applications.id"), nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_application_history_application", "application_history", ["application_id", "id"])
    op.create_table(
        "form_drafts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("version_id", sa.String(32), sa.ForeignKey("form_versions.id"), nullable=False),
        sa.Column("resume_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("answers", sa.Text, nullable=False),
        sa.Column("page", sa.String(40)),
        sa.Column("application_id", sa.String(32)),
        sa.Column("created_at_us", sa.BigInteger, nullable=False),
        sa.Column("updated_at_us", sa.BigInteger, nullable=False),
        sa.Column("expires_at_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "section_staff",
        sa.Column("staff_id", sa.String(32), primary_key=True),
        sa.Column("section", sa.String(60), primary_key=True),
    )
    op.create_table(
        "attachments",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("media_type", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at_us", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_attachments_owner", "attachments", ["owner"])


def downgrade() -> None:
    """Drop the online-application tables (their data with them)."""
    op.drop_index("ix_attachments_owner", table_name="attachments")
    op.drop_table("attachments")
    op.drop_table("section_staff")
    op.drop_table("form_drafts")
    op.drop_index("ix_application_history_application", table_name="application_history")
    op.drop_table("application_history")
    op.drop_index("ix_applications_status", table_name="applications")
    op.drop_index("ix_applications_procedure_submitted", table_name="applications")
    op.drop_table("applications")
    op.drop_table("form_versions")
    op.drop_table("procedures")
