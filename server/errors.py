"""One error envelope and one list of error codes for HTTP and WebSocket.

HTTP: ``{"error": {"code": …, "message": …, "details": […]?}}`` with the
status from :data:`CODES`. WebSocket: ``{"type": "error", "id": …, "error": {…}}``.
Messages never carry stack traces, versions or paths (seed 004 11(3)).
"""

from __future__ import annotations

from typing import Any

#: code → HTTP status. Every error the server sends uses one of these codes.
CODES: dict[str, int] = {
    # request shape
    "bad_request": 400,
    "headers_too_large": 431,
    "malformed_json": 400,
    "invalid_request": 422,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "message_too_large": 413,
    "unknown_topic": 404,
    "too_many_topics": 422,
    "not_found": 404,
    "method_not_allowed": 405,
    # who may do what
    "unauthenticated": 401,
    "forbidden": 403,
    "origin_not_allowed": 403,
    "wrong_counter": 403,
    "login_failed": 401,
    "rate_limited": 429,
    "conflict": 409,
    # domain (raised by the queue core)
    "unknown_queue": 404,
    "unknown_counter": 404,
    "unknown_ticket": 404,
    "queue_not_issuable": 409,
    "office_closed": 409,
    "queue_closed": 409,
    "queue_not_ready": 409,
    "numbers_exhausted": 409,
    "duplicate_token": 409,
    "counter_not_open": 409,
    "counter_not_yours": 409,
    "counter_not_paused": 409,
    "counter_busy": 409,
    "counter_idle": 409,
    "counter_in_use": 409,
    "no_waiting": 409,
    "invalid_transition": 409,
    "reinstate_expired": 409,
    "ticket_not_at_counter": 409,
    "queue_not_served": 409,
    "wrong_business_day": 409,
    "unknown_printer": 404,
    "unknown_job": 404,
    "no_printer": 409,
    # online applications (online_forms/)
    "form_invalid": 422,
    "answers_invalid": 422,
    "draft_not_found": 404,
    "form_version_stale": 409,
    "procedure_not_open": 409,
    "not_published": 409,
    "no_draft": 409,
    "not_eligible": 409,
    "application_closed": 409,
    "status_not_allowed": 409,
    "message_required": 422,
    "not_returned": 409,
    "file_type": 415,
    "file_too_large": 413,
    "bad_file": 422,
    "not_encodable": 422,
    "bad_cursor": 422,
    "not_delivered": 409,
    # server side
    "storage_unavailable": 503,
    "ticket_font_missing": 503,
    "internal_error": 500,
}


class ApiError(Exception):
    """An error to send to a client: a code from :data:`CODES`, a message, and
    optional ``details`` (e.g. which fields were wrong); ``retry_after_s`` (whole
    seconds) tells a throttled client when to try again (also the ``Retry-After`` header)."""

    def __init__(self, code: str, message: str, details: list[dict[str, Any]] | None = None, *,
                 retry_after_s: int | None = None) -> None:
        assert code in CODES, code
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        self.retry_after_s = retry_after_s

    @property
    def status(self) -> int:
        """The HTTP status for this error."""
        return CODES[self.code]

    def body(self) -> dict[str, Any]:
        """The error object inside the envelope."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            out["details"] = self.details
        if self.retry_after_s is not None:
            out["retry_after_s"] = self.retry_after_s
        return out


#: The code for an HTTP error status raised outside the API's handlers (Starlette's
#: router and static files, e.g. 404 and 405; request parsing, 400).
STATUS_CODES: dict[int, str] = {
    400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    413: "payload_too_large", 415: "unsupported_media_type", 431: "headers_too_large",
}


def status_error(status: int) -> ApiError:
    """The error for an HTTP ``status`` raised outside the API's handlers: its code
    from :data:`STATUS_CODES`, else ``bad_request`` (4xx) or ``internal_error``."""
    code = STATUS_CODES.get(status) or ("bad_request" if 400 <= status < 500 else "internal_error")
    messages = {
        "bad_request": "the request could not be understood",
        "not_found": "nothing here",
        "method_not_allowed": "this method is not allowed here",
        "unauthenticated": "sign in first",
        "forbidden": "this is not allowed",
        "payload_too_large": "the request body is too large",
        "unsupported_media_type": "this content type is not accepted here",
        "headers_too_large": "the request headers are too large",
        "internal_error": "something went wrong on the server; it has been logged",
    }
    return ApiError(code, messages[code])


def envelope(err: ApiError) -> dict[str, Any]:
    """The HTTP error body."""
    return {"error": err.body()}


def validation_details(errors: list[Any]) -> list[dict[str, Any]]:
    """Pydantic errors → ``[{"field": "a.b", "problem": "…"}]`` (no input echoed)."""
    out = []
    for e in errors[:20]:
        field = ".".join(str(p) for p in e.get("loc", ())) or "(body)"
        out.append({"field": field, "problem": e.get("msg", "invalid")})
    return out
