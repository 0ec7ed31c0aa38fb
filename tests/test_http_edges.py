"""The HTTP edges on a real server: a bounded request head, malformed HTTP and
Starlette's own errors in the one envelope, 405 with ``Allow``, and an OpenAPI
document that says what the server does with bodies and headers (issue 13, 14 and 16)."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

import server.app  # noqa: F401  (registers every route)
from server.api.openapi import document
from server.api.registry import SPECS
from server.settings import Settings

from .serverkit import ServerProcess, admin, bearer
from .test_api import assert_envelope


def exchange(server: ServerProcess, request: bytes, chunk: int = 65_536) -> bytes:
    """Send ``request`` on a fresh connection (stopping if the server closes it) and
    read until the server closes; the raw response (``b""`` if it reset the connection)."""
    parts = urlsplit(server.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=20) as sock:
        try:
            for start in range(0, len(request), chunk):
                sock.sendall(request[start:start + chunk])
        except (BrokenPipeError, ConnectionResetError):
            pass
        out = b""
        try:
            while data := sock.recv(65_536):
                out += data
        except ConnectionResetError:
            pass
        return out


def parse(raw: bytes) -> tuple[int, dict[str, str], Any]:
    """Status, headers (lower-case names) and JSON body of one raw HTTP/1.1 response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict((k.strip().lower(), v.strip()) for k, v in (line.split(":", 1) for line in lines[1:]))
    return int(lines[0].split()[1]), headers, orjson.loads(body)


def test_the_request_head_limit_is_one_setting_of_64_kib() -> None:
    assert Settings().max_header_bytes == 65_536


def test_a_5_mb_header_is_refused_and_the_server_goes_on(server: ServerProcess) -> None:
    big = b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 5_000_000 + b"\r\n\r\n"
    raw = exchange(server, big)
    if raw:  # the server answered before the client's sending broke off (else it reset the connection)
        status, headers, body = parse(raw)
        assert status == 431 and headers["content-type"] == "application/json", raw[:300]
        assert body["error"]["code"] == "headers_too_large"
    # Just over the limit (sent whole, so the answer is never lost to a reset): 431 in the envelope.
    over = b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n"
    status, headers, body = parse(exchange(server, over))
    assert (status, headers["connection"], body["error"]["code"]) == (431, "close", "headers_too_large")
    assert "65536" in body["error"]["message"]
    # Headers within the limit are fine, and the server still answers everyone.
    assert httpx.get(server.url + "/api/health", headers={"X-Big": "a" * 30_000}).status_code == 200
    assert httpx.get(server.url + "/api/health").status_code == 200


@pytest.mark.parametrize("request_bytes", [
    b"GARBAGE\r\n\r\n",
    b"GET /api/health HTTP/1.1\r\nHost x\r\n\r\n",  # a header line with no colon
    b"GET /api/health HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n",
    b"GET /api/ health HTTP/1.1\r\nHost: a\r\n\r\n",
])
def test_http_the_server_cannot_parse_gets_the_envelope(server: ServerProcess, request_bytes: bytes) -> None:
    status, headers, body = parse(exchange(server, request_bytes))
    assert status == 400 and headers["content-type"] == "application/json"
    assert body == {"error": {"code": "bad_request", "message": "the request is not valid HTTP/1.1"}}


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("DELETE", "/api/staff", "GET, HEAD, POST"),          # two routes on one path: both methods named
    ("TRACE", "/api/devices/me/printer", "GET, HEAD"),
    ("PUT", "/api/devices/me/printer", "GET, HEAD"),      # the concrete path wins over {device_id}
    ("GET", "/api/devices/{x}/printer", "PUT"),
    ("POST", "/api/openapi.json", "GET, HEAD"),
    ("PATCH", "/api/tickets", "POST"),
    ("POST", "/static/app.css", "GET, HEAD"),             # StaticFiles' own 405
])
async def test_405_is_the_envelope_with_allow(server: ServerProcess, method: str, path: str, allow: str) -> None:
    async with httpx.AsyncClient(base_url=server.url) as c:
        r = await c.request(method, path.replace("{x}", "d1"))
    assert_envelope(r, 405, "method_not_allowed")
    assert r.headers["allow"] == allow


async def test_every_error_outside_the_handlers_is_the_envelope(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.url) as c:
        assert_envelope(await c.get("/api/nothing-here"), 404, "not_found")
        assert_envelope(await c.get("/static/no-such-file.css"), 404, "not_found")
        assert_envelope(await c.get("/ws"), 404, "not_found")  # the WebSocket path over plain HTTP
        r = await c.head("/api/state")  # HEAD takes the GET route
        assert r.status_code == 200 and r.content == b""


def operation(doc: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    op: dict[str, Any] = doc["paths"][path][method.lower()]
    return op


def test_a_body_is_required_in_the_document_exactly_when_an_empty_body_is_refused() -> None:
    doc = document()
    required = {}
    for spec in SPECS:
        if spec.body is None:
            assert "requestBody" not in operation(doc, spec.method, spec.path)
            continue
        try:
            spec.body.model_validate_json(b"{}")  # what the server reads an empty body as
            empty_ok = True
        except ValueError:
            empty_ok = False
        required[spec.handler.__name__] = operation(doc, spec.method, spec.path)["requestBody"]["required"]
        assert required[spec.handler.__name__] is not empty_ok, spec.path
    assert required["login"] and required["pair"] and not required["finish"]
    header = next(p for p in operation(doc, "POST", "/api/tickets")["parameters"] if p["name"] == "Idempotency-Key")
    assert header["schema"] == {"type": "string", "minLength": 1, "maxLength": 64}


async def test_the_server_does_what_the_document_says_of_bodies_and_headers(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.url) as c:
        # A required body left out: 422 naming the fields.
        error = assert_envelope(await c.post("/api/auth/login"), 422, "invalid_request")
        assert {d["field"] for d in error["details"]} == {"username", "password"}
        # An empty Idempotency-Key (minLength 1) is refused, not taken as no key.
        r = await c.post("/api/tickets", json={"queue": "shomei"},
                         headers={**bearer(server.kiosk), "Idempotency-Key": ""})
        assert_envelope(r, 422, "invalid_request")
        a = await admin(c)
        # JSON has no dates: a number for one is refused (it was read as 1970-01-01).
        r = await c.post("/api/stats/exports", json={"from": 0, "to": "2000-01-01", "format": "csv"}, headers=a)
        assert assert_envelope(r, 422, "invalid_request")["details"][0]["field"] == "from"
        # A printer agent needs its printer, a display has none: in the model, and in its schema.
        r = await c.post("/api/devices", json={"kind": "printer", "name": "agent"}, headers=a)
        assert "printer agent needs" in assert_envelope(r, 422, "invalid_request")["details"][0]["problem"]
        r = await c.post("/api/devices", json={"kind": "display", "name": "d", "printer": "p1"}, headers=a)
        assert "display has no printer" in assert_envelope(r, 422, "invalid_request")["details"][0]["problem"]
        schema = (await c.get("/api/openapi.json")).json()["components"]["schemas"]["DeviceIn"]
        assert {"if": {"properties": {"kind": {"const": "printer"}}},
                "then": {"required": ["printer"], "properties": {"printer": {"type": "string"}}}} in schema["allOf"]
