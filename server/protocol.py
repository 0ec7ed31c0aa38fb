"""HTTP/1.1 connections: uvicorn's h11 protocol, with the request line and headers
bounded and uvicorn's own answer to a request it cannot parse sent in the error
envelope (:mod:`server.errors`) rather than as plain text.

h11 buffers at most ``h11_max_incomplete_event_size`` bytes of a request head
(:attr:`server.settings.Settings.max_header_bytes`, give or take :data:`STEP`) and
raises ``RemoteProtocolError`` beyond it, as it does for a malformed request line or
header; uvicorn then calls :meth:`Http11.send_400_response`. The body is bounded
apart (``max_body_bytes``, in :mod:`server.api.registry`).
"""

from __future__ import annotations

import h11
import orjson
from uvicorn.protocols.http.h11_impl import H11Protocol

from .errors import ApiError, envelope

#: Bytes handed to h11 at a time. h11 checks its limit only while a request head is
#: incomplete, so a whole head arriving in one read (up to 256 KiB) would pass; fed in
#: steps, a head is refused once it is over the limit by at most one step.
STEP = 4096


class Http11(H11Protocol):
    """uvicorn's h11 protocol whose parse errors are answered as ``bad_request`` (400)
    or, when the unparsed head is over the limit, ``headers_too_large`` (431, RFC 6585 5),
    in the envelope, and the connection closed."""

    def data_received(self, data: bytes) -> None:
        """Feed ``data`` to h11 :data:`STEP` bytes at a time (see there)."""
        for start in range(0, len(data), STEP):
            if self.transport.is_closing():
                return
            super().data_received(data[start:start + STEP])

    def send_400_response(self, msg: str) -> None:
        """Answer a request h11 could not parse (``msg`` is uvicorn's, for its log) and close."""
        limit = self.config.h11_max_incomplete_event_size
        unparsed, _ = self.conn.trailing_data
        if limit is not None and len(unparsed) > limit:
            err = ApiError("headers_too_large", f"the request line and headers are larger than {limit} bytes")
        else:
            err = ApiError("bad_request", "the request is not valid HTTP/1.1")
        body = orjson.dumps(envelope(err))
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close")]
        for event in (h11.Response(status_code=err.status, headers=headers), h11.Data(data=body), h11.EndOfMessage()):
            self.transport.write(self.conn.send(event) or b"")
        self.transport.close()
