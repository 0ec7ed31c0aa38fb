"""The online applications' tables, on the floor's metadata (one database, one
set of migrations: revision 0003 adds these). Portable types only; moments are
UTC epoch microseconds (``*_us``); JSON is stored as text.

- ``procedures``: the catalogue (手続); ``data`` the :class:`ProcedureDraft` JSON,
  ``next_seq`` the running count for ``{seq:N}`` references.
- ``form_versions``: each version of a procedure's form; ``state`` ``draft`` →
  ``pending`` (sent for approval) → ``published`` (frozen) → ``retired`` (a later
  one was published). One draft at most per procedure.
- ``applications``: submitted applications (申請), pinned to the version the
  citizen saw; ``receipt_hash`` the hash of the citizen's receipt-link token;
  ``submission_key`` makes a repeated submit return the first application.
- ``application_history``: every change and every staff view (who, when).
- ``form_drafts``: answers saved to resume later (``resume_hash`` of the code),
  expiring; ``application_id`` when it corrects a returned application.
- ``section_staff``: which sections (係) each staff member belongs to (兼務: several).
- ``attachments``: files received, kept under the data directory by ``id``
  (never by their name), owned by a draft or an application.

Revision 0004 adds the back office's feed (:mod:`online_forms.feed`):

- ``backoffice_scopes``: the procedures each back-office system (a device of kind
  ``backoffice``) may read.
- ``backoffice_deliveries``: per system and application, the feed sequence last
  delivered to it and the one it acknowledged (``NULL``: not acknowledged, or
  offered again). The feed's sequence is the id of the application's latest
  ``submitted``/``resubmitted`` history row (index ``ix_application_history_action``).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from server.storage.schema import metadata

procedures = Table(
    "procedures", metadata,
    Column("id", String(32), primary_key=True),
    Column("slug", String(40), nullable=False, unique=True),
    Column("state", String(16), nullable=False),
    Column("section", String(60), nullable=False),
    Column("data", Text, nullable=False),
    Column("next_seq", Integer, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
)

form_versions = Table(
    "form_versions", metadata,
    Column("id", String(32), primary_key=True),
    Column("procedure_id", String(32), ForeignKey("procedures.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("document", Text, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("requested_by", String(64)),
    Column("published_by", String(64)),
    Column("published_at_us", BigInteger),
    UniqueConstraint("procedure_id", "number", name="uq_form_versions_number"),
)

applications = Table(
    "applications", metadata,
    Column("id", String(32), primary_key=True),
    Column("procedure_id", String(32), ForeignKey("procedures.id"), nullable=False),
    Column("version_id", String(32), ForeignKey("form_versions.id"), nullable=False),
    Column("reference", String(40), nullable=False, unique=True),
    Column("status", String(16), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("answers", Text, nullable=False),
    Column("assignee", String(32)),
    Column("receipt_hash", String(64), nullable=False, unique=True),
    Column("submission_key", String(64), nullable=False, unique=True),
    Column("submitted_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    Index("ix_applications_procedure_submitted", "procedure_id", "submitted_at_us"),
    Index("ix_applications_status", "status"),
)

application_history = Table(
    "application_history", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("application_id", String(32), ForeignKey("applications.id"), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Index("ix_application_history_application", "application_id", "id"),
    Index("ix_application_history_action", "action", "id"),
)

form_drafts = Table(
    "form_drafts", metadata,
    Column("id", String(32), primary_key=True),
    Column("version_id", String(32), ForeignKey("form_versions.id"), nullable=False),
    Column("resume_hash", String(64), nullable=False, unique=True),
    Column("answers", Text, nullable=False),
    Column("page", String(40)),
    Column("application_id", String(32)),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
)

section_staff = Table(
    "section_staff", metadata,
    Column("staff_id", String(32), primary_key=True),
    Column("section", String(60), primary_key=True),
)

attachments = Table(
    "attachments", metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("media_type", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Index("ix_attachments_owner", "owner"),
)

backoffice_scopes = Table(
    "backoffice_scopes", metadata,
    Column("device_id", String(32), ForeignKey("devices.id"), primary_key=True),
    Column("procedure_id", String(32), ForeignKey("procedures.id"), primary_key=True),
)

backoffice_deliveries = Table(
    "backoffice_deliveries", metadata,
    Column("device_id", String(32), ForeignKey("devices.id"), primary_key=True),
    Column("application_id", String(32), ForeignKey("applications.id"), primary_key=True),
    Column("delivered_seq", BigInteger, nullable=False),
    Column("delivered_at_us", BigInteger, nullable=False),
    Column("acked_seq", BigInteger),
    Column("acked_at_us", BigInteger),
)
