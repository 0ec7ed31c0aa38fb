"""Server settings: each declared once, typed, defaulted and documented.

Every setting can be given as an environment variable with the prefix
``MADOGUCHI_`` (e.g. ``MADOGUCHI_DB_URL``); the CLI flags of ``madoguchi
serve`` override them. (STYLE.md 12.)
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from hardware.ticket import TicketFonts


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
        None, min_length=8,
        description=("Password for the first admin account when the database has none; default: a generated one, "
                     "printed at start."),
    )
    session_ttl_s: int = Field(12 * 3600, ge=60, description="How long a staff sign-in lasts.")
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
    ws_max_message_bytes: int = Field(16_384, ge=256, description="Largest WebSocket message a client may send.")
    max_body_bytes: int = Field(16_384, ge=256, description="Largest HTTP request body.")
    public_rate: str = Field(
        "120/minute",
        description="Rate limit per client address for public status requests (limits syntax).",
    )
    login_rate: str = Field("5/5minutes", description="Failed sign-ins allowed per user name (limits syntax).")
    login_rate_address: str = Field(
        "30/5minutes",
        description="Failed sign-ins allowed per client address (limits syntax).",
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
