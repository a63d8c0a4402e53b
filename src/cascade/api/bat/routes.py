"""The `/bat` router: the core API's three endpoints, each refusal in D6's body.

A request is checked in the Cascade API's order: credentials (401; 403 for a suspended
account), the account's rate (429, from the same buckets as the Cascade API: D8), content
type (415), body size (413), then the body (400, 422, or 200 with per-message results).
Every error under `/bat` — including the framework's own and a server fault — leaves as
D6's body; a fault's details go to the log, never to the client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.exceptions import HTTPException
from litestar.params import FromPath

from cascade.api.app import (
    JSON,
    STORE_RETRY_AFTER_S,
    Answer,
    ApiError,
    RateKind,
    Services,
    read_body,
    route_of,
    throttle,
)
from cascade.api.auth import Principal
from cascade.api.bat.errors import RATE_LIMITED_MESSAGE, BatError, Code, error_body
from cascade.api.bat.intake import BatIntake
from cascade.api.bat.status import status_body
from cascade.api.bat.wire import (
    DEFAULT_PER_PAGE,
    ENCODER,
    MAX_PAGE,
    MAX_PER_PAGE,
    ListPageOut,
)
from cascade.api.bat_auth import AuthFailure, authenticate_bat
from cascade.api.dry_run import DRY_RUN, wants_dry_run
from cascade.api.ratelimit import client_address, retry_after_header
from cascade.domain.content import Content
from cascade.domain.errors import RequestRejected
from cascade.domain.surfaces import iso
from cascade.store import StoreError
from cascade.store.price_book import PriceBook

log = logging.getLogger(__name__)

AnyRequest = Request[Any, Any, Any]

_encode = ENCODER.encode


def bat_router(
    s: Services, intake: BatIntake, parts: Callable[[str, Content], int], prices: PriceBook
) -> Router:
    """The router; `prices` is this process's price table, for each status's `cost`."""

    async def admit(request: AnyRequest, kind: RateKind) -> Principal:
        found = await authenticate_bat(s.auth, request.headers, client_address(request))
        if isinstance(found, AuthFailure):
            raise BatError(found.status, found.message, headers=found.headers())
        decision = await throttle(s, found.account, kind)
        if not decision.allowed:
            raise BatError(
                429,
                RATE_LIMITED_MESSAGE,
                headers={"Retry-After": retry_after_header(decision)},
            )
        return found

    @post("/messagelist", status_code=200)
    async def send(request: AnyRequest) -> Answer:
        principal = await admit(request, "send")
        media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type != JSON:
            raise BatError(415, "Content-Type must be application/json")
        dry = _dry_run(request)
        if dry:
            preview = await intake.preview(principal, await read_body(request), s.dry_run.routes)
            return Answer(_encode(preview))
        answer = await intake.send(principal, await read_body(request))
        if s.wake is not None:
            s.wake()
        return Answer(_encode(answer))

    @get("/message/{message_id:str}")
    async def message(request: AnyRequest, message_id: FromPath[str]) -> Answer:
        principal = await admit(request, "status")
        view = await s.store.message_view(principal.account.id, message_id=message_id)
        if view is None:
            raise BatError(404, "No such message")
        return Answer(_encode(status_body(view, parts, await prices.table())))

    @get("/messagelist/{list_id:str}")
    async def message_list(request: AnyRequest, list_id: FromPath[str]) -> Answer:
        principal = await admit(request, "status")
        number = _whole(list_id)
        if number is None:
            raise BatError(404, "No such message list")
        page = _query_number(request, "page", 1, MAX_PAGE)
        per_page = _query_number(request, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)
        found = await s.store.message_list(
            principal.account.id, number, (page - 1) * per_page, per_page
        )
        if found is None:
            raise BatError(404, "No such message list")
        table = await prices.table()
        return Answer(
            _encode(
                ListPageOut(
                    messagelistId=found.id,
                    createdAt=iso(found.created_at_ms) or "",
                    total=found.total,
                    page=page,
                    per_page=per_page,
                    messages=[status_body(view, parts, table) for view in found.messages],
                )
            )
        )

    return Router(
        "/bat",
        route_handlers=[send, message, message_list],
        exception_handlers={
            BatError: _on_bat_error,
            ApiError: _on_api_error,
            HTTPException: _on_http,
            Exception: _on_fault,
        },
    )


def _dry_run(request: AnyRequest) -> bool:
    try:
        return wants_dry_run(request.query_params.get(DRY_RUN))
    except RequestRejected as err:
        raise BatError(400, err.message, Code.INVALID_FORMAT, err.field) from None


def _whole(value: str) -> int | None:
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        return None
    return int(value)


def _query_number(request: AnyRequest, name: str, default: int, most: int | None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    number = _whole(raw)
    if number is None or number < 1 or (most is not None and number > most):
        limit = f"1-{most}" if most is not None else "at least 1"
        raise BatError(400, f"{name} must be a whole number, {limit}", Code.INVALID_FORMAT, name)
    return number


def _respond(err: BatError) -> Response[bytes]:
    return Response(
        error_body(err), status_code=err.status, media_type=JSON, headers=err.headers or None
    )


def _on_bat_error(_: AnyRequest, exc: BatError) -> Response[bytes]:
    if exc.status == 429:  # exactly as the provider documents it: no code, no field
        body = _encode({"error": "Too Many Requests", "message": exc.message, "status": 429})
        return Response(body, status_code=429, media_type=JSON, headers=exc.headers)
    return _respond(exc)


def _on_api_error(_: AnyRequest, exc: ApiError) -> Response[bytes]:
    """A shared helper's refusal (a body cut short), in D6's body."""
    code = Code.INVALID_FORMAT if exc.status == 400 else None
    return _respond(BatError(exc.status, exc.message, code, exc.field, exc.headers))


def _on_http(request: AnyRequest, exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    if status >= 500:
        return _on_fault(request, exc)
    message = "Request body is too large" if status == 413 else str(exc.detail)
    return _respond(BatError(status, message, headers=exc.headers or None))


def _on_fault(request: AnyRequest, exc: Exception) -> Response[bytes]:
    if isinstance(exc, StoreError):
        log.warning("store unavailable on %s %s: %s", request.method, route_of(request), exc)
        return _respond(
            BatError(
                503,
                "Storage is unavailable; retry later",
                headers={"Retry-After": str(STORE_RETRY_AFTER_S)},
            )
        )
    log.error("server fault on %s %s", request.method, route_of(request), exc_info=exc)
    return _respond(BatError(500, "Internal server error"))
