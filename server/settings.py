"""Server settings: each declared once, typed, defaulted and documented.

Every setting can be given as an environment variable with the prefix
``MADOGUCHI_`` (e.g. ``MADOGUCHI_DB_URL``); the CLI flags of ``madoguchi
serve`` override them. (STYLE.md 12.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from hardware.ticket import TicketFonts
from stats.bounds import MAX_YEARS


class Settings(BaseSettings):
    """All settings of the server. Times are seconds."""

    model_config = SettingsConfigDict(env_prefix="MADOGUCHI_", extra="forbid")

    data_dir: Path = Field(Path("data"), description="Folder for the SQLite database and other state.")
    db_url: str | None = Field(
        None,
        description="SQLAlchemy async URL; default: SQLite file madoguchi.sqlite3 in data_dir.",
    )
    sqlite_synchronous: str = Field(
        "FULL", pattern="^(FULL|NORMAL|EXTRA)$",
        description="SQLite PRAGMA synchronous: FULL survives power loss, NORMAL only a process crash.",
    )
    config: Path | None = Field(None, description="Office TOML file; default: the built-in demo office.")
    auto_upgrade: bool | None = Field(None, description=(
        "Upgrade an out-of-date database schema at start, as `madoguchi db upgrade` does (otherwise the server "
        "refuses to start on one); default: on for the demo office, off otherwise."))
    rehearsal: bool | None = Field(
        None,
        description=("Ignore the opening calendar (training, rehearsal); default: on for the demo office, off "
                     "otherwise."),
    )
    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(8000, ge=0, le=65535, description="Port to listen on (0: any free port).")
    public_url: str | None = Field(
        None,
        description="URL visitors' phones use to reach the server (printed in QR codes); default: http://host:port.",
    )
    admin_password: str | None = Field(
        None, min_length=1,
        description=("Password for the first admin account when the database has none; default: a generated one, "
                     "printed at start. It must pass the password rules (at least 15 characters, not common, "
                     "not containing 'admin' or the office's name); the server refuses to start otherwise."),
    )
    session_ttl_s: int = Field(12 * 3600, ge=1, description="How long a staff sign-in lasts.")
    door: Literal["all", "apply"] = Field(
        "all",
        description="What this process serves: all (the floor, the staff screens and the citizens' side) or apply "
                    "(only the citizens' side under /apply/, beside a server running all on the same database).",
    )
    apply_draft_ttl_s: int = Field(
        30 * 86400, ge=60,
        description="How long a citizen's saved application (resume code) lasts after its last save, in seconds.",
    )
    apply_concurrency: int = Field(
        4, ge=0, le=1000,
        description=("Citizens' requests (/apply/api/) worked on at once; the others wait their turn, so the floor's "
                     "calls never queue behind hundreds of them (server/admission.py). 0: no limit."),
    )
    ws_queue_size: int = Field(
        1000, ge=4,
        description="Messages queued for one WebSocket client before it is dropped as too slow.",
    )
    ws_history: int = Field(
        10_000, ge=100,
        description="Recent events kept in memory for clients that reconnect with a sequence number.",
    )
    ws_heartbeat_s: float = Field(
        2.0, gt=0, le=60,
        description=("The longest a WebSocket stays silent, in seconds: a heartbeat goes out once nothing else has for "
                     "this long. Screens treat 5 s of silence as a lost connection, so keep it well under 5."),
    )
    ws_max_message_bytes: int = Field(
        16_384, ge=256, description="Largest WebSocket message a client may send, in bytes (UTF-8).",
    )
    ws_max_topics: int = Field(
        32, ge=1,
        description=("Distinct topics one WebSocket connection may hold; a subscribe past it is refused with "
                     "too_many_topics (repeated names in one message count once)."),
    )
    ws_rate: float = Field(
        10.0, gt=0,
        description=("Messages per second one WebSocket client may send, on average (a token bucket of ws_burst); "
                     "one past it is refused with rate_limited."),
    )
    ws_burst: int = Field(
        40, ge=1,
        description=("Messages a WebSocket client may send at once before ws_rate applies; a client refused this "
                     "many times in a row is closed with code 1008."),
    )
    max_body_bytes: int = Field(16_384, ge=256, description="Largest HTTP request body.")
    max_header_bytes: int = Field(
        65_536, ge=4096,
        description="Largest HTTP request line and headers together, in bytes; a larger request is answered 431.",
    )
    public_rate: str = Field(
        "120/minute",
        description="Rate limit per client address for public status requests (limits syntax).",
    )
    apply_rate: str = Field(
        "300/minute",
        description="Rate limit per client address for the citizens' application API under /apply/api/ "
                    "(limits syntax).",
    )
    apply_start_rate: str = Field(
        "30/hour",
        description="Applications a client address may start (new drafts, each able to hold files) (limits syntax).",
    )
    login_rate: str = Field(
        "5/minute;10/10minutes;20/hour",
        description=("Failed sign-ins allowed per user name and client address, in tiers so the wait grows as "
                     "failures go on (limits syntax, ';' between tiers); a success there clears them."),
    )
    login_rate_address: str = Field(
        "30/5minutes",
        description="Failed sign-ins allowed per client address, whatever the user names (limits syntax).",
    )
    login_rate_user: str = Field(
        "100/hour",
        description=("Failed sign-ins allowed per user name from all addresses (limits syntax); over it, only "
                     "addresses that have been failing for that user wait, so a stranger cannot lock the owner out."),
    )
    allowed_origins: list[str] = Field(
        [],
        description=("Origins (scheme://host[:port]) besides the server's own and public_url's that may send "
                     "state-changing requests or open /ws with the session cookie, as a JSON list, e.g. "
                     "'[\"https://madoguchi.example.lg.jp\"]' behind a TLS proxy."),
    )
    socket_send_buffer: int | None = Field(
        None, ge=1024,
        description=("SO_SNDBUF of client connections in bytes, bounding what a stuck client holds in the kernel "
                     "(default: the OS's autotuning)."),
    )
    pairing_ttl_s: int = Field(24 * 3600, ge=60, description="How long a device pairing code stays valid.")
    ticket_font: Path | None = Field(
        None,
        description=("Japanese regular font file for paper tickets (TTF/OTF/TTC, Noto Sans CJK JP at index 0); "
                     "default: Debian's fonts-noto-cjk."),
    )
    ticket_font_bold: Path | None = Field(
        None,
        description="Japanese bold font file for paper tickets; default: Debian's fonts-noto-cjk.",
    )
    stats_exports_running: int = Field(
        2, ge=1, le=16,
        description=("Statistics exports that may run at once (each is a child process reading the log); more are "
                     "refused with 429 until one finishes or is cancelled."),
    )
    stats_export_max_years: int = Field(
        MAX_YEARS, ge=1, le=50,
        description=("The longest span of logged business days one statistics export covers, in years (the "
                     "retention of operation logs); longer ranges are refused with 422."),
    )
    clock_offset_file: Path | None = Field(
        None,
        description=("For rehearsals and tests only: a text file holding a number of seconds added to the system "
                     "clock, read at every reading (missing or empty: 0), so a clock step can be rehearsed without "
                     "touching the host's clock. Leave unset in service."),
    )


    def ticket_fonts(self) -> TicketFonts:
        """The font files for paper tickets (``ticket_font``, ``ticket_font_bold``), for :mod:`hardware.ticket`."""
        regular, bold = self.ticket_font, self.ticket_font_bold
        return TicketFonts(str(regular) if regular else None, str(bold) if bold else None)

    def database_url(self) -> str:
        """The database URL in force."""
        return self.db_url or f"sqlite+aiosqlite:///{(self.data_dir / 'madoguchi.sqlite3').resolve()}"


class ReplaySettings(BaseSettings):
    """What ``madoguchi replay`` reads from the environment (the same ``MADOGUCHI_``
    prefix; other server settings in the environment are ignored here)."""

    model_config = SettingsConfigDict(env_prefix="MADOGUCHI_", extra="ignore")

    admin_password: str | None = Field(
        None, min_length=1,
        description="The admin password madoguchi replay signs in with when --admin-password is not given.",
    )
