"""Request and response bodies. Unknown fields and wrong types are refused."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Body(BaseModel):
    """Base of every request body: strict types, no unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True)


class LoginIn(Body):
    """Staff sign-in: user name and password."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class IssueIn(Body):
    """A ticket request from a kiosk (or staff at a counter)."""

    queue: str = Field(pattern=r"^[a-z0-9_]{1,32}$", description="Queue (業種) id.")
    procedures: list[str] = Field(
        default_factory=list, max_length=10, description="Further queues of the same visit, in order."
    )
    priority: bool = Field(False, description="Assistance needed: called sooner, without starving others.")
    idempotency_key: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="Same key from the same device → same ticket (also the Idempotency-Key header).",
    )


class CallTicketIn(Body):
    """Which ticket to call by number (個別呼出)."""

    ticket: str = Field(min_length=1, max_length=32, description="Ticket id to call (a waiting or held ticket).")


class FinishIn(Body):
    """How service ends."""

    handover: bool = Field(True, description="Send a certificate ticket on to the hand-over queue (証明の交付).")


class TransferIn(Body):
    """Where a ticket goes (転送), keeping its number."""

    to_queue: str = Field(pattern=r"^[a-z0-9_]{1,32}$")
    front: bool = Field(False, description="Keep the original issue time as its place in the new queue.")


class CancelIn(Body):
    """Why a ticket is cancelled (staff only; never shown in public)."""

    reason: str = Field("cancelled", min_length=1, max_length=100)


PASSWORD_RULES = (
    "At least 15 characters (NIST SP 800-63B-4, the password being the only factor), no control characters, "
    "not a common password, not containing the user name, display name, office name or \"madoguchi\" "
    "(422 invalid_request otherwise). Normalised to NFKC."
)


class StaffIn(Body):
    """A new staff account."""

    username: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    password: str = Field(min_length=1, max_length=200, description=PASSWORD_RULES,
                          json_schema_extra={"minLength": 15})
    role: Literal["admin", "supervisor", "clerk"]
    display_name: str | None = Field(
        None, min_length=1, max_length=100,
        description="Shown on screens; no control characters or bidirectional controls (U+202A-202E, U+2066-2069).")


class PasswordIn(Body):
    """A new password."""

    password: str = Field(min_length=1, max_length=200, description=PASSWORD_RULES,
                          json_schema_extra={"minLength": 15})


class DeviceIn(Body):
    """A kiosk, display or printer agent to register; ``printer`` is the
    kiosk's ticket printer (optional) or the printer the agent drives (required);
    a display has none."""

    model_config = ConfigDict(json_schema_extra={"allOf": [
        {"if": {"properties": {"kind": {"const": "printer"}}},
         "then": {"required": ["printer"], "properties": {"printer": {"type": "string"}}}},
        {"if": {"properties": {"kind": {"const": "display"}}}, "then": {"properties": {"printer": {"type": "null"}}}},
    ]})

    kind: Literal["kiosk", "display", "printer"]
    name: str = Field(min_length=1, max_length=100)
    printer: str | None = Field(None, min_length=1, max_length=32, description="A printer id from [[printers]].")

    @model_validator(mode="after")
    def _printer_fits_kind(self) -> DeviceIn:
        if self.kind == "printer" and self.printer is None:
            raise ValueError("a printer agent needs the printer it drives")
        if self.kind == "display" and self.printer is not None:
            raise ValueError("a display has no printer")
        return self


class PrinterIn(Body):
    """Which printer a device uses (``null``: none)."""

    printer: str | None = Field(min_length=1, max_length=32)


class ReprintIn(Body):
    """Where to reprint; by default the printer of the kiosk that issued the ticket."""

    printer: str | None = Field(None, min_length=1, max_length=32)


class PrinterStateIn(Body):
    """A printer's health as its agent reads it."""

    state: Literal["ok", "paper_near_end", "paper_end", "cover_open", "offline", "error", "unknown"]


class AgentResultIn(PrinterStateIn):
    """How a job went at the agent: printed (``ok``) or not, the printer's state and a message."""

    ok: bool
    message: str = Field("", max_length=200)


class PairIn(Body):
    """The one-time pairing code an admin was given."""

    code: str = Field(min_length=10, max_length=200)
    kind: Literal["kiosk", "display", "printer", "backoffice"] | None = Field(
        None, description="The kind of device pairing; a code for another kind is refused and stays usable."
    )


class Estimate(BaseModel):
    """People ahead and expected wait in seconds with an 80 % range."""

    ahead: int | None = Field(description="People ahead (待ち人数).")
    wait_s: float | None = Field(description="Expected wait in seconds (null: no counter open).")
    low_s: float | None
    high_s: float | None


class IssuedTicket(Estimate):
    """The ticket just issued, with what was true at issue time."""

    ticket: str = Field(description="Ticket id (staff use).")
    display: str = Field(description="The number as printed, e.g. '12' or 'A12'.")
    number: int
    queue: str
    token: str = Field(description="Random public token (128 bits) of the phone page.")
    status_url: str = Field(description="Phone page URL for the QR code.")
    issued_at: str
    preview_url: str = Field(description="PNG of the paper ticket, for the kiosk screen when nothing prints.")
    print: dict[str, Any] = Field(
        description="The print job: state no_printer, unknown_printer, queued, done or expired."
    )


class Error(BaseModel):
    """An error: stable code, message for people, optional field details."""

    code: str
    message: str
    details: list[dict[str, str]] | None = None
    retry_after_s: int | None = Field(None, description="When throttled (429): seconds to wait, as Retry-After.")


class ErrorEnvelope(BaseModel):
    """Every error response body."""

    error: Error
