"""Cross-site request forgery guard for the HTTP API (OWASP CSRF Prevention Cheat Sheet:
"Verifying Origin with standard headers", "Use of custom request headers"/content type).

For every state-changing request (POST, PUT, PATCH, DELETE) under ``/api/`` and
``/apply/api/`` (the citizens' side):

- an ``Origin`` header that is not the server's own origin (scheme and ``Host``
  of the request), ``public_url``'s, or one of ``allowed_origins`` is refused
  (403 ``origin_not_allowed``), whoever sends it;
- a request authenticated by the session cookie (no ``Authorization: Bearer``;
  routes anyone may use, such as sign-in, are not authenticated by it) must
  show where it comes from: ``Origin``, or ``Referer`` when ``Origin`` is
  absent; with neither it is refused;
- a ``Content-Type`` other than ``application/json`` is refused (415
  ``unsupported_media_type``), even with an empty body: HTML forms can only send
  ``text/plain``, ``application/x-www-form-urlencoded`` and ``multipart/form-data``
  (an attachment is sent as ``application/octet-stream`` to :data:`UPLOADS` only,
  with the draft's code in a custom header, which a form cannot send either).

Bearer-token clients (kiosks, displays, printer agents, scripts) send no cookie
and usually no ``Origin``, and are unaffected. No page posts an HTML form to the
server (the screens call the API with ``fetch`` and JSON), so no form token is needed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from .api.registry import COOKIE, error_response
from .errors import ApiError

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: The API paths guarded: staff and devices (/api/) and citizens (/apply/api/).
GUARDED = ("/api/", "/apply/api/")
#: Where a file is sent as its raw bytes (application/octet-stream) rather than JSON.
UPLOADS = (re.compile(r"/apply/api/draft/files"), re.compile(r"/api/forms/procedures/[^/]+/files"))


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of ``url`` in lower case, or ``None`` when it has none."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def refusal(method: str, path: str, headers: dict[str, str], own: set[str],
            public: frozenset[str] = frozenset()) -> ApiError | None:
    """Why a request must be refused, or ``None``. ``headers`` in lower case; ``own``
    the origins allowed (lower case); ``public`` the paths the cookie does not authenticate."""
    if method not in UNSAFE or not path.startswith(GUARDED):
        return None
    origin = headers.get("origin")
    if origin is not None and origin.lower() not in own:
        return ApiError("origin_not_allowed", "このサーバーの画面以外からの変更は受け付けません。"
                        " Changes are only accepted from this server's own pages (Origin).")
    has_cookie = False
    try:
        has_cookie = COOKIE in SimpleCookie(headers.get("cookie", ""))
    except CookieError:
        has_cookie = "cookie" in headers
    bearer = headers.get("authorization", "").lower().startswith("bearer ")
    if has_cookie and not bearer and origin is None and path not in public:
        referer = origin_of(headers.get("referer", ""))
        if referer is None or referer not in own:
            return ApiError("origin_not_allowed", "このサーバーの画面以外からの変更は受け付けません。"
                            " Changes with the session cookie need this server's Origin or Referer.")
    content_type = headers.get("content-type")
    upload = any(pattern.fullmatch(path) for pattern in UPLOADS)
    allowed = ("application/json", "application/octet-stream") if upload else ("application/json",)
    if content_type is not None and content_type.split(";")[0].strip().lower() not in allowed:
        return ApiError("unsupported_media_type", "send the body as application/json")
    return None


class CsrfGuard:
    """ASGI middleware applying :func:`refusal` (errors in the one envelope).
    ``origins``: origins allowed besides the request's own (``public_url``, ``allowed_origins``);
    ``public``: paths of routes anyone may use (no session needed)."""

    def __init__(self, app: ASGIApp, origins: Iterable[str] = (), public: Iterable[str] = ()) -> None:
        self.app = app
        self.origins = {o for o in (origin_of(x) for x in origins) if o is not None}
        self.public = frozenset(public)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a forged request before it reaches a route."""
        if scope["type"] == "http" and scope["method"] in UNSAFE:
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            own = set(self.origins)
            if "host" in headers:
                own.add(f"{scope.get('scheme', 'http')}://{headers['host']}".lower())
            err = refusal(scope["method"], scope["path"], headers, own, self.public)
            if err is not None:
                await error_response(err)(scope, receive, send)
                return
        await self.app(scope, receive, send)
