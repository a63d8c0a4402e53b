"""The ASGI application: routes, the error body, and the order of checks on a request.

A send request is checked in this order: credentials (401), the account's rate (429),
content type (415), body size (413), then the body itself (400). Every error, including
the framework's own (404, 405, 413) and any server fault (500), leaves as the one
documented error body; a fault's details go to the log, never to the client.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec
from litestar import Litestar, Request, Response, Router, delete, get, post, route
from litestar.exceptions import HTTPException
from litestar.params import FromPath
from litestar.types import ControllerRouterHandler, Receive, Scope, Send

from cascade.api.auth import Authenticator, Principal, Unauthorized
from cascade.api.docs import docs_page, openapi_document
from cascade.api.dry_run import DRY_RUN, DryRun, wants_dry_run
from cascade.api.http_metrics import timed
from cascade.api.intake import Intake
from cascade.api.ratelimit import Limiter, retry_after_header
from cascade.api.wire import (
    DRY_RUN_ENCODER,
    AttemptOut,
    CallbackIn,
    CancelledOut,
    ErrorBody,
    ErrorDetail,
    StatusOut,
    callback_kind,
    decode_callback,
    decode_cancel,
    decode_verify,
    given,
)
from cascade.callback_url import CallbackUrlPolicy
from cascade.cancel import cancel_messages
from cascade.channels.base import Inbound, WebhookHandler
from cascade.clock import Clock
from cascade.domain.delivery import Verdict, code_hash, is_code
from cascade.domain.errors import RequestRejected
from cascade.domain.events import Event
from cascade.domain.message import Route
from cascade.domain.ratelimit import Decision, Rate
from cascade.domain.sending import Sender
from cascade.domain.surfaces import iso
from cascade.observer import NO_OBSERVER, Exposition, Observer
from cascade.store import Account, ApiStore, MessageView, StoreError
from cascade.store.base import CallbackKind

log = logging.getLogger(__name__)

AnyRequest = Request[Any, Any, Any]

JSON = "application/json"
_encode = msgspec.json.encode

# a refused flash-call code: (error code, message)
_REFUSED_CODE = {
    Verdict.WRONG: ("WRONG_CODE", "Wrong code"),
    Verdict.EXHAUSTED: ("ATTEMPTS_EXHAUSTED", "No attempts left for this code"),
    Verdict.EXPIRED: ("CODE_EXPIRED", "The code has expired"),
}

_STATUS_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    503: "UNAVAILABLE",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}


@dataclass(frozen=True, slots=True)
class Services:
    store: ApiStore
    clock: Clock
    auth: Authenticator
    limiter: Limiter
    intake: Intake
    dry_run: DryRun  # sends previewed, not made (SPEC A9)
    send_rate: Rate
    status_rate: Rate
    max_body_bytes: int
    head_revision: str
    # channel name → its inbound webhook handler, and what to do with their events
    webhooks: Mapping[str, WebhookHandler] = field(default_factory=dict)
    on_events: Callable[[Sequence[Event]], Awaitable[None]] | None = None
    wake: Callable[[], None] | None = None  # tell an in-process engine that work arrived
    # installation-level provider accounts (channels without bots), by channel name
    static_senders: Mapping[str, Sender] = field(default_factory=dict)
    public_url: str = ""
    # which status-webhook URLs may be registered (cascade.callback_url)
    callback_urls: CallbackUrlPolicy = field(default_factory=CallbackUrlPolicy)
    # what is counted (refusals, HTTP latency), and GET /metrics's answer (None: no route)
    observer: Observer = NO_OBSERVER
    metrics: Exposition | None = None


class Answer:
    """A 200 JSON answer whose body is already encoded, as the ASGI app that sends it.

    A handler that returns one is answered with it as it is (Litestar passes an ASGI app
    through): the same two headers as `Response(body, media_type=JSON)`, without building
    a `Response`, its header and cookie collections and then the `ASGIResponse` Litestar
    would convert it to, per request (issue 14: that was 15 % of a send's own work on the
    event loop, cProfile of the app driven in process).
    """

    __slots__ = ("_body", "_start")

    def __init__(self, body: bytes) -> None:
        headers = [(b"content-type", _JSON_BYTES), (b"content-length", b"%d" % len(body))]
        self._start = {"type": "http.response.start", "status": 200, "headers": headers}
        self._body = {"type": "http.response.body", "body": body, "more_body": False}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(self._start)  # type: ignore[arg-type]
        await send(self._body)  # type: ignore[arg-type]


_JSON_BYTES = JSON.encode()


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    body = _encode(ErrorBody(ErrorDetail(code, message, field)))
    return Response(body, status_code=status, media_type=JSON, headers=headers)


def _on_api_error(_: AnyRequest, exc: ApiError) -> Response[bytes]:
    return error_response(exc.status, exc.code, exc.message, exc.field, exc.headers)


def _on_rejected(_: AnyRequest, exc: RequestRejected) -> Response[bytes]:
    return error_response(400, exc.code, exc.message, exc.field)


def _on_http(request: AnyRequest, exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    if status >= 500:  # the framework's own fault: its text is not for the client
        return _on_fault(request, exc)
    code = _STATUS_CODES.get(status, "HTTP_ERROR")
    message = "Request body is too large" if status == 413 else str(exc.detail)
    return error_response(status, code, message, headers=exc.headers or None)


STORE_RETRY_AFTER_S = 2  # a database restart or fail-over takes seconds


def route_of(request: AnyRequest) -> str:
    """The request's route as declared (`/api/chat/media/public/{token}/{name}`),
    for log lines: a concrete path may carry a capability (a public media's token)."""
    template = request.scope.get("path_template")
    return template if isinstance(template, str) and template else request.url.path


def _on_fault(request: AnyRequest, exc: Exception) -> Response[bytes]:
    if isinstance(exc, StoreError):  # not this server's fault, nor the client's: retry
        log.warning("store unavailable on %s %s: %s", request.method, route_of(request), exc)
        return error_response(
            503,
            "STORE_UNAVAILABLE",
            "Storage is unavailable; retry later",
            headers={"Retry-After": str(STORE_RETRY_AFTER_S)},
        )
    log.error("server fault on %s %s", request.method, route_of(request), exc_info=exc)
    return error_response(500, "INTERNAL_ERROR", "Internal server error")


async def read_body(request: AnyRequest) -> bytes:
    """The whole body; one the client cut short or framed wrongly (a malformed chunk, a
    length it did not send) is the client's mistake: 400, never a fault."""
    try:
        return await request.body()
    except HTTPException as exc:
        if exc.status_code < 500:  # 413 and the like keep their own answer
            raise
        raise ApiError(400, "INCOMPLETE_BODY", "The request body was cut short") from None


def status_body(view: MessageView) -> StatusOut:
    return StatusOut(
        messageId=view.id,
        trackinId=view.tracking_id,
        status=view.status,
        channel=view.channel,
        reason=view.reason,
        messageType=view.message_type,
        route=view.route,
        text=view.text,
        createdAt=iso(view.created_at_ms) or "",
        scheduledAt=iso(view.scheduled_at_ms),
        expiresAt=iso(view.expires_at_ms) or "",
        updatedAt=iso(view.updated_at_ms) or "",
        attempts=[
            AttemptOut(
                channel=a.channel,
                status=a.status,
                startedAt=iso(a.started_at_ms) or "",
                finishedAt=iso(a.finished_at_ms),
                reason=a.reason,
                providerMessageId=a.provider_message_id,
                parts=a.parts,
                detail=a.detail,
            )
            for a in view.attempts
        ],
        clicks=view.clicks,
        surveyAnswer=view.survey_answer,
        cancelRequestedAt=iso(view.cancel_requested_at_ms),
    )


RateKind = Literal["send", "status"]


async def throttle(s: Services, account: Account, kind: RateKind) -> Decision:
    """Draw from the account's bucket of this kind: messaging ("send") or data ("status")
    endpoints, one of each per account, whichever API surface the request came to (SPEC
    A5, D8)."""
    if kind == "send":
        rate = Rate(
            account.send_rate or s.send_rate.per_second, account.send_burst or s.send_rate.burst
        )
    else:
        rate = Rate(
            account.status_rate or s.status_rate.per_second,
            account.status_burst or s.status_rate.burst,
        )
    decision = await s.limiter.hit(f"{account.id}:{kind}", rate)
    if not decision.allowed:
        s.observer.rate_limited(account.id, kind)
    return decision


def metrics_route(exposition: Exposition) -> ControllerRouterHandler:
    """`GET /metrics`: what this process counts (with several API processes, what all of
    them count), in Prometheus's text format (docs/operations.md)."""

    @get("/metrics")
    async def metrics() -> Response[bytes]:
        return Response(await exposition.render(), media_type=exposition.content_type)

    return metrics


def create_app(
    services: Services,
    *,
    on_shutdown: list[Callable[[], Awaitable[None]]] | None = None,
    routers: Sequence[Router] = (),
    on_startup: list[Callable[[], Awaitable[None]]] | None = None,
) -> Litestar:
    """The app; `routers` are the other API surfaces' (each with its own error body)."""
    s = services
    openapi = _encode(openapi_document())
    docs_html = docs_page()

    async def admit(request: AnyRequest, rate_kind: RateKind) -> Principal:
        try:
            principal = await s.auth.authenticate(request.headers)
        except Unauthorized:
            raise ApiError(401, "UNAUTHORIZED", "Missing or invalid credentials") from None
        decision = await throttle(s, principal.account, rate_kind)
        if not decision.allowed:
            raise ApiError(
                429,
                "RATE_LIMITED",
                "Rate limit exceeded",
                headers={"Retry-After": retry_after_header(decision)},
            )
        return principal

    async def json_body(request: AnyRequest) -> bytes:
        content_type = request.headers.get("content-type", "")
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type != JSON:
            raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json")
        return await read_body(request)

    async def send(request: AnyRequest, route: Route) -> Answer:
        principal = await admit(request, "send")
        dry = wants_dry_run(request.query_params.get(DRY_RUN))
        body = await json_body(request)
        if dry:
            previews = await s.intake.preview(principal, body, route, s.dry_run.routes)
            return Answer(DRY_RUN_ENCODER.encode(previews))
        accepted = await s.intake.send(principal, body, route)
        if s.wake is not None:
            s.wake()
        return Answer(_encode(accepted))

    @post("/api/CascadeMessage/send_message/async", status_code=200)
    async def send_standard(request: AnyRequest) -> Answer:
        return await send(request, Route.STANDARD)

    @post("/api/CascadeMessage/send_message/tg-viber/async", status_code=200)
    async def send_tg_viber(request: AnyRequest) -> Answer:
        return await send(request, Route.TG_VIBER)

    @post("/api/items", status_code=200)
    async def items(request: AnyRequest) -> Response[bytes]:
        principal = await admit(request, "send")
        body = await json_body(request)
        count = await s.intake.upload_variables(principal.account.id, body)
        return Response(_encode({"updated": count}), media_type=JSON)

    async def show(
        account_id: str, *, message_id: str | None = None, tracking_id: str | None = None
    ) -> Response[bytes]:
        view = await s.store.message_view(
            account_id, message_id=message_id, tracking_id=tracking_id
        )
        if view is None:
            raise ApiError(404, "NOT_FOUND", "No such message")
        return Response(_encode(status_body(view)), media_type=JSON)

    @get("/api/CascadeMessage/status/{message_id:str}")
    async def status_by_id(request: AnyRequest, message_id: FromPath[str]) -> Response[bytes]:
        principal = await admit(request, "status")
        return await show(principal.account.id, message_id=message_id)

    @get("/api/CascadeMessage/status")
    async def status_by_tracking(request: AnyRequest) -> Response[bytes]:
        principal = await admit(request, "status")
        query = request.query_params
        tracking_id = query.get("trackingId") or query.get("trackinId")
        if not tracking_id:
            raise ApiError(400, "MISSING_FIELD", "trackingId is required", "trackingId")
        return await show(principal.account.id, tracking_id=tracking_id)

    @get("/s/{code:str}")
    async def short_link(request: AnyRequest, code: FromPath[str]) -> Response[bytes]:
        url = await s.store.follow_link(code, s.clock.now_ms(), request.headers.get("user-agent"))
        if url is None:
            raise ApiError(404, "NOT_FOUND", "No such link")
        return Response(b"", status_code=302, headers={"Location": url})

    @post("/webhooks/{channel:str}/{sender_id:str}", status_code=200)
    async def webhook(
        request: AnyRequest, channel: FromPath[str], sender_id: FromPath[str]
    ) -> Response[bytes]:
        handler = s.webhooks.get(channel)
        sender = s.static_senders.get(channel) if sender_id == channel else None
        if handler is not None and sender is None:
            row = await s.store.sender(sender_id)
            if row is not None and row.channel == channel:
                sender = Sender(row.id, row.token, row.webhook_secret)
        if handler is None or sender is None:
            raise ApiError(404, "NOT_FOUND", "No such webhook")
        headers = {name.lower(): value for name, value in request.headers.items()}
        # the URL the provider called, as it saw it (Twilio signs it)
        query = request.url.query
        headers["x-cascade-webhook-url"] = f"{s.public_url.rstrip('/')}{request.url.path}" + (
            f"?{query}" if query else ""
        )
        inbound = Inbound(sender, headers, await read_body(request))
        reply = await handler(inbound)
        if reply.events and s.on_events is not None:
            await s.on_events(reply.events)
        return Response(reply.body, status_code=reply.status, media_type=reply.content_type)

    @post("/api/CascadeMessage/verify", status_code=200)
    async def verify(request: AnyRequest) -> Response[bytes]:
        principal = await admit(request, "send")
        wanted = decode_verify(await json_body(request))
        if not is_code(wanted.code):
            raise ApiError(400, "INVALID_CODE", "code must be 4-6 digits", "code")
        if "\x00" in wanted.message_id:
            raise ApiError(404, "NOT_FOUND", "No such verification")
        result = await s.store.verify_code(
            principal.account.id, wanted.message_id, code_hash(wanted.message_id, wanted.code)
        )
        if result is Verdict.OK:
            return Response(
                _encode({"messageId": wanted.message_id, "verified": True}), media_type=JSON
            )
        if result is Verdict.UNKNOWN:
            raise ApiError(404, "NOT_FOUND", "No such verification")
        raise ApiError(400, *_REFUSED_CODE[result], "code")

    @post("/api/CascadeMessage/cancel", status_code=200)
    async def cancel(request: AnyRequest) -> Response[bytes]:
        """SPEC A9 (a Cascade extension): one answer per id, in the order given."""
        principal = await admit(request, "send")
        wanted = decode_cancel(await json_body(request))
        outcomes = await cancel_messages(
            s.store,
            principal.account.id,
            message_ids=given(wanted.messageIds),
            tracking_ids=given(wanted.trackingIds),
        )
        body = [CancelledOut(o.id, o.status, o.message_id) for o in outcomes]
        return Response(_encode(body), media_type=JSON)

    # one handler for both methods, so OPTIONS and 405 answer `Allow: GET, POST`
    @route("/api/callbacks", http_method=["GET", "POST"], status_code=200)
    async def callbacks(request: AnyRequest) -> Response[bytes]:
        if request.method == "GET":
            return await list_callbacks(request)
        return await add_callback(request)

    async def add_callback(request: AnyRequest) -> Response[bytes]:
        principal = await admit(request, "status")
        wanted: CallbackIn = decode_callback(await json_body(request))
        await s.callback_urls.check(wanted.url)  # its addresses: public ones only
        secret = secrets.token_hex(32)
        kind = CallbackKind(wanted.kind)
        callback_id = await s.store.add_callback(principal.account.id, wanted.url, secret, kind)
        return Response(
            _encode({"id": callback_id, "url": wanted.url, "kind": kind, "secret": secret}),
            media_type=JSON,
        )

    async def list_callbacks(request: AnyRequest) -> Response[bytes]:
        principal = await admit(request, "status")
        asked = request.query_params.getall("kind", [])
        if len(asked) > 1:
            raise ApiError(400, "INVALID_KIND", "kind is given at most once", "kind")
        kinds = [CallbackKind(callback_kind(k)) for k in asked] or list(CallbackKind)
        listed = [
            {"id": i, "url": u, "kind": kind}
            for kind in kinds
            for i, u in await s.store.list_callbacks(principal.account.id, kind)
        ]
        return Response(_encode(listed), media_type=JSON)

    @delete("/api/callbacks/{callback_id:str}", status_code=200)
    async def remove_callback(request: AnyRequest, callback_id: FromPath[str]) -> Response[bytes]:
        principal = await admit(request, "status")
        if not await s.store.remove_callback(principal.account.id, callback_id):
            raise ApiError(404, "NOT_FOUND", "No such callback")
        return Response(b'{"removed":true}', media_type=JSON)

    @get("/healthz")
    async def healthz() -> Response[bytes]:
        return Response(b'{"status":"ok"}', media_type=JSON)

    @get("/readyz")
    async def readyz() -> Response[bytes]:
        try:
            await s.store.ping()
            revision = await s.store.schema_revision()
        except StoreError:
            raise ApiError(503, "UNAVAILABLE", "Database unreachable") from None
        if revision != s.head_revision:
            raise ApiError(
                503,
                "UNAVAILABLE",
                f"Schema at {revision}, expected {s.head_revision}: run `cascade migrate`",
            )
        return Response(b'{"status":"ready"}', media_type=JSON)

    @get("/openapi.json")
    async def openapi_json() -> Response[bytes]:
        return Response(openapi, media_type=JSON)

    @get("/docs")
    async def docs() -> Response[str]:
        return Response(docs_html, media_type="text/html")

    handlers: list[ControllerRouterHandler] = [
        send_standard,
        send_tg_viber,
        items,
        webhook,
        verify,
        cancel,
        callbacks,
        remove_callback,
        status_by_id,
        status_by_tracking,
        short_link,
        healthz,
        readyz,
        openapi_json,
        docs,
        *routers,
    ]
    if s.metrics is not None:
        handlers.append(metrics_route(s.metrics))
    return Litestar(
        route_handlers=handlers,
        exception_handlers={
            ApiError: _on_api_error,
            RequestRejected: _on_rejected,
            HTTPException: _on_http,
            Exception: _on_fault,
        },
        openapi_config=None,
        # Cascade configures logging itself (cascade.logs): Litestar's default would
        # replace the root logger's handler, format and level when the app is built
        logging_config=None,
        request_max_body_size=s.max_body_bytes,
        on_startup=on_startup or [],
        on_shutdown=on_shutdown or [],
        middleware=[timed(s.observer, s.clock)],
        debug=False,
    )
