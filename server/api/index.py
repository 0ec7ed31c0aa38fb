"""``GET /api/``: an index of the API, built from the same registry as the routes and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from .registry import SPECS, Ctx, endpoint

OPENAPI_PATH = "/api/openapi.json"


class RouteInfo(BaseModel):
    """One declared route."""

    method: str = Field(description="HTTP method, e.g. GET.")
    path: str = Field(description="Path with {parameters}, e.g. /api/counters/{counter}/call-next.")
    summary: str
    access: str = Field(description="Who may call it: public, kiosk, printer, staff, counter, desk, supervisor, admin.")
    tag: str


class ApiIndex(BaseModel):
    """Where the API is described, and its routes."""

    name: str
    openapi: str = Field(description="Path of the OpenAPI 3.1 document.")
    websocket: str = Field(description="Path of the real-time WebSocket.")
    routes: list[RouteInfo]


@endpoint("GET", "/api/", summary="API index", access="public", tag="public", response=ApiIndex)
async def api_index(ctx: Ctx, _: None) -> dict[str, Any]:
    """Every route declared in the registry (method, path, summary, who may call it), the OpenAPI
    document's path and the WebSocket's. Paths only: no host, nothing taken from the request."""
    routes = [RouteInfo(method=s.method, path=s.path, summary=s.summary, access=s.access, tag=s.tag) for s in SPECS]
    routes.append(RouteInfo(method="GET", path=OPENAPI_PATH, summary="The OpenAPI 3.1 document", access="public",
                            tag="public"))
    return ApiIndex(name="madoguchi API", openapi=OPENAPI_PATH, websocket="/ws", routes=routes).model_dump()
