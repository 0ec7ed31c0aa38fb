"""Tables. Types are plain and portable (no dialect-specific column types).

``events`` is the append-only log of every transition (what statistics read):
``seq`` is the global event number, ``at_us`` the moment in UTC epoch
microseconds, ``business_day`` the Asia/Tokyo date ``YYYY-MM-DD``, ``data``
the event's fields as JSON text. Rows are never updated or deleted.

Every change here needs a revision in ``server/storage/migrations/versions``
(a city's database upgrades in place with ``madoguchi db upgrade``);
``tests/test_migrations.py`` fails while the two disagree.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

events = Table(
    "events", metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("business_day", String(10), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("type", String(32), nullable=False),
    Column("ticket", String(32)),
    Column("queue", String(32)),
    Column("counter", String(16)),
    Column("staff", String(64)),
    Column("data", Text, nullable=False),
    Index("ix_events_day_seq", "business_day", "seq"),
    Index("ix_events_ticket", "ticket"),
)

staff = Table(
    "staff", metadata,
    Column("id", String(32), primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(100), nullable=False),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at_us", BigInteger, nullable=False),
)

devices = Table(
    "devices", metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("name", String(100), nullable=False),
    Column("token_hash", String(64), unique=True),
    Column("pairing_hash", String(64), unique=True),
    Column("pairing_expires_us", BigInteger),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("created_at_us", BigInteger, nullable=False),
)

sessions = Table(
    "sessions", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("staff_id", String(32), nullable=False),
    Column("counter", String(16)),
    Column("created_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
    Index("ix_sessions_staff", "staff_id"),
)

audit = Table(
    "audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at_us", BigInteger, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("detail", Text, nullable=False),
)

#: Print jobs (issue 4): one row per ticket to print, kept until printed or
#: given up, so a job survives a restart and a failed print is never lost.
#: ``state``: ``queued``, ``done`` or ``expired`` (given up; staff may reprint).
print_jobs = Table(
    "print_jobs", metadata,
    Column("id", String(32), primary_key=True),
    Column("business_day", String(10), nullable=False),
    Column("ticket", String(32), nullable=False),
    Column("printer", String(32), nullable=False),
    Column("device", String(32)),
    Column("staff", String(64)),
    Column("reprint", Boolean, nullable=False, default=False),
    Column("face", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", String(200)),
    Column("created_at_us", BigInteger, nullable=False),
    Column("done_at_us", BigInteger),
    Index("ix_print_jobs_state", "state", "business_day"),
    Index("ix_print_jobs_ticket", "ticket"),
)

#: Which printer a device uses: a kiosk's ticket printer, or the printer a
#: ``madoguchi printer-agent`` device drives. Changed by admins (audited).
device_printers = Table(
    "device_printers", metadata,
    Column("device", String(32), primary_key=True),
    Column("printer", String(32), nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
)


# The online applications keep their tables on this metadata (online_forms/tables.py), so that one
# set of migrations covers the whole database.
from online_forms import tables as _online_forms_tables  # noqa: E402, F401
