"""ChatHub's REST routes for tokens, organizations and operators (SPEC E1-E2).

| Method | Path | Who |
|---|---|---|
| POST | `/api/company/get-token` | anyone with a login and password |
| POST | `/api/operator/validate-token` | anyone with a token |
| GET | `/api/company/organization` | a company (all), an operator (its own) |
| GET | `/api/operator?organizationId=` | a company (all), an operator (its own organization's) |
| POST | `/api/operator/get-token` | a company |
| POST | `/api/operator/synchronize` | a company |
| POST | `/api/operator/status` | a company (its chats placed anew; each told as `ChatCreated`) |
| … | `/api/chat/…` | chats and messages: `cascade.api.chathub.chat_routes` |

"A company" is a company token or the account's API key (`X-Authorization-Key`). A
request is checked in this order: credentials (401; 403 for a suspended account, or an
operator token where a company's is needed), the account's data-endpoint rate (429, the
bucket the other APIs use: D8), content type (415), body (400), then what it names (404:
an organization or operator the caller may not see is answered as one that does not
exist). Every refusal, the framework's own and a server fault included, is
`cascade.api.chathub.wire`'s problem document.

An operator's hub connections hold the organization it had when they connected: one
`synchronize` moves to another organization has them closed with `allowReconnect` (they
reconnect into the new one), and one deleted has them closed for good, before its chats
are told (`cascade.api.chathub.conversations`' dismissals).

Operator ids: an operator's `id` is an integer unique within its account. Synchronize
with an `id` and it is the company's own id for that operator (the operator of that id
is updated, or created with it); without one, Cascade picks the next after the account's
highest. The same `id` is what every other call takes and answers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.exceptions import HTTPException

from cascade.api.app import (
    JSON,
    STORE_RETRY_AFTER_S,
    ApiError,
    Services,
    read_body,
    route_of,
    throttle,
)
from cascade.api.auth import Unauthorized
from cascade.api.chathub.chat_routes import chat_routes
from cascade.api.chathub.conversations import Conversations, operator_deleted, operator_moved
from cascade.api.chathub.tokens import (
    MAX_OPERATOR_TOKEN_MS,
    ChatAuth,
    ChatPrincipal,
    Refused,
    TokenKind,
)
from cascade.api.chathub.wire import (
    ENCODER,
    MAX_SYNCHRONIZE,
    PROBLEM_JSON,
    ChatError,
    TokenOut,
    ValidationOut,
    decode_json,
    fields_of,
    id_field,
    instant_field,
    iso_ms,
    name_field,
    operator_out,
    organization_out,
    problem_body,
    query_id,
    required,
    text_field,
    wants_text,
)
from cascade.api.ratelimit import client_address, retry_after_header
from cascade.api.sign_in_throttle import TOO_MANY_SIGN_INS, TooManyAttempts
from cascade.domain.chats import OperatorStatus, OperatorSync, Organization
from cascade.domain.ratelimit import Decision, Rate
from cascade.store import Account, ChatStore, NotFound, StoreError

log = logging.getLogger(__name__)

AnyRequest = Request[Any, Any, Any]

BAD_LOGIN = "Invalid login or password"  # an unknown login and a wrong password alike
COMPANY_ONLY = "This call needs a company token or the account's API key"


def chathub_router(
    s: Services,
    store: ChatStore,
    auth: ChatAuth,
    company_token_s: int,
    conversations: Conversations | None = None,
    *,
    public_media_rate: Rate,
) -> Router:
    """The router; `company_token_s` is how long a company token lives; `conversations`
    serves the chats and messages (SPEC E3, `cascade.api.chathub.chat_routes`);
    `public_media_rate` bounds each client address's fetches of operators' uploads at
    their public, unauthenticated URL."""
    if company_token_s < 1:
        raise ValueError("CASCADE_COMPANY_TOKEN_SECONDS must be at least 1")

    async def admit(request: AnyRequest, *, company: bool = False) -> ChatPrincipal:
        """The caller, allowed and within its rate (401, 403, 429 otherwise)."""
        found = await auth.authenticate(request.headers, request.query_params)
        if isinstance(found, Refused):
            raise _refusal(found)
        if company and not found.is_company:
            raise ChatError(403, COMPANY_ONLY)
        await _throttle(found.account)
        return found

    async def _throttle(account: Account) -> None:
        _refuse_over(await throttle(s, account, "status"))

    async def public_throttle(request: AnyRequest) -> None:
        """The public media URL has no credentials: its bucket is the client address's."""
        address = client_address(request)
        _refuse_over(await s.limiter.hit(f"public-media:{address}", public_media_rate))

    async def body_of(request: AnyRequest) -> Any:
        media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type != JSON:
            raise ChatError(415, "Content-Type must be application/json")
        return decode_json(await read_body(request))

    async def token_answer(request: AnyRequest, token: str, expires_at_ms: int) -> Response[bytes]:
        if wants_text(request.headers.get("accept")):
            return Response(token.encode(), media_type="text/plain")
        return Response(ENCODER.encode(TokenOut(token, iso_ms(expires_at_ms))), media_type=JSON)

    async def visible_organizations(principal: ChatPrincipal) -> dict[int, Organization]:
        return {
            org.id: org
            for org in await store.organizations(principal.account.id)
            if principal.sees(org.id)
        }

    # --- tokens ---------------------------------------------------------------------------

    @post("/company/get-token", status_code=200)
    async def company_token(request: AnyRequest) -> Response[bytes]:
        found = fields_of(await body_of(request))
        login, password = text_field(found, "login"), text_field(found, "password")
        try:
            principal = await s.auth.authenticate_login(login, password, client_address(request))
        except TooManyAttempts as refused:
            raise ChatError(
                429,
                TOO_MANY_SIGN_INS,
                headers={"Retry-After": retry_after_header(refused.decision)},
            ) from None
        except Unauthorized:
            raise ChatError(401, BAD_LOGIN) from None
        if principal.account.suspended:
            raise ChatError(403, "The account is suspended")
        await _throttle(principal.account)
        expires_at_ms = s.clock.now_ms() + company_token_s * 1000
        token = await auth.tokens.issue(TokenKind.COMPANY, principal.account.id, expires_at_ms)
        return await token_answer(request, token, expires_at_ms)

    @post("/operator/get-token", status_code=200)
    async def operator_token(request: AnyRequest) -> Response[bytes]:
        principal = await admit(request, company=True)
        found = fields_of(await body_of(request))
        operator_id = id_field(found, "id")
        now = s.clock.now_ms()
        expires_at_ms = instant_field(found, "expiresAt")
        if expires_at_ms is None:
            expires_at_ms = now + MAX_OPERATOR_TOKEN_MS
        elif expires_at_ms <= now:
            raise ChatError(400, "expiresAt is in the past", "expiresAt")
        elif expires_at_ms > now + MAX_OPERATOR_TOKEN_MS:
            raise ChatError(400, "expiresAt is more than 24 hours ahead", "expiresAt")
        operator = await store.operator(principal.account.id, operator_id)
        if operator is None:
            raise ChatError(404, "No such operator", "id")
        if operator.status is OperatorStatus.DELETED:
            raise ChatError(404, "The operator is deleted", "id")
        token = await auth.tokens.issue(
            TokenKind.OPERATOR,
            principal.account.id,
            expires_at_ms,
            operator_id=operator.id,
            organization_id=operator.organization_id,
        )
        return await token_answer(request, token, expires_at_ms)

    @post("/operator/validate-token", status_code=200)
    async def validate_token(request: AnyRequest) -> Response[bytes]:
        token = text_field(fields_of(await body_of(request)), "token")
        claims = await auth.tokens.read(token.strip())
        if isinstance(claims, str):
            answer = ValidationOut(False, None, None, None, claims)
        else:
            error: str | None = None
            if auth.tokens.expired(claims):
                error = "The token has expired"
            else:
                checked = await auth.principal_of(claims)
                error = checked.reason if isinstance(checked, Refused) else None
            answer = ValidationOut(
                error is None,
                claims.operator_id,
                claims.account_id,
                iso_ms(claims.expires_at_ms),
                error,
            )
        return Response(ENCODER.encode(answer), media_type=JSON)

    # --- organizations and operators --------------------------------------------------------

    @get("/company/organization")
    async def organizations(request: AnyRequest) -> Response[bytes]:
        principal = await admit(request)
        found = await visible_organizations(principal)
        return Response(
            ENCODER.encode([organization_out(org) for org in found.values()]), media_type=JSON
        )

    @get("/operator")
    async def operators(request: AnyRequest) -> Response[bytes]:
        principal = await admit(request)
        raw = request.query_params.get("organizationId")
        visible = await visible_organizations(principal)
        organization_id: int | None = None
        if raw is not None:
            organization_id = query_id(raw, "organizationId")
            if organization_id not in visible:
                raise ChatError(404, "No such organization", "organizationId")
        found = await store.operators(principal.account.id, organization_id)
        return Response(
            ENCODER.encode(
                [operator_out(op, visible) for op in found if op.organization_id in visible]
            ),
            media_type=JSON,
        )

    @post("/operator/synchronize", status_code=200)
    async def synchronize(request: AnyRequest) -> Response[bytes]:
        principal = await admit(request, company=True)
        items = _sync_items(await body_of(request))
        named = {item.id for item in items if item.id is not None}
        before = {
            op.id: op.organization_id
            for op in await store.operators(principal.account.id)
            if op.id in named
        }
        try:
            result = await store.synchronize_operators(principal.account.id, items)
        except NotFound as err:
            at = next(i for i, item in enumerate(items) if item.organization_id == err.key)
            raise ChatError(
                404, f"No such organization: {err.key}", f"[{at}].organizationId"
            ) from None
        if conversations is not None:  # a moved operator's connections hold its old one
            for op in result:
                if before.get(op.id, op.organization_id) != op.organization_id:
                    await conversations.hub.dismiss(operator_moved(op))
        visible = await visible_organizations(principal)
        return Response(
            ENCODER.encode([operator_out(op, visible) for op in result]), media_type=JSON
        )

    @post("/operator/status", status_code=200)
    async def operator_status(request: AnyRequest) -> Response[bytes]:
        principal = await admit(request, company=True)
        found = fields_of(await body_of(request))
        operator_id = id_field(found, "id")
        status = _status(required(found, "status"))
        changed = await store.set_operator_status(principal.account.id, operator_id, status)
        if changed is None:
            raise ChatError(404, "No such operator", "id")
        if conversations is not None:
            if status is OperatorStatus.DELETED:  # before its chats are told: not to it
                await conversations.hub.dismiss(operator_deleted(changed.operator))
            await conversations.announce_placed(changed.placed)
        visible = await visible_organizations(principal)
        return Response(ENCODER.encode(operator_out(changed.operator, visible)), media_type=JSON)

    return Router(
        "/api",
        route_handlers=[
            company_token,
            operator_token,
            validate_token,
            organizations,
            operators,
            synchronize,
            operator_status,
            *(
                chat_routes(conversations, admit, body_of, public_throttle)
                if conversations is not None
                else []
            ),
        ],
        exception_handlers={
            ChatError: _on_chat_error,
            ApiError: _on_api_error,
            HTTPException: _on_http,
            Exception: _on_fault,
        },
    )


def _refuse_over(decision: Decision) -> None:
    if not decision.allowed:
        raise ChatError(
            429,
            "Rate limit exceeded. Please wait before sending more requests.",
            headers={"Retry-After": retry_after_header(decision)},
        )


def _refusal(refused: Refused) -> ChatError:
    headers = {"WWW-Authenticate": 'Bearer realm="chathub"'} if refused.status == 401 else None
    return ChatError(refused.status, refused.reason, headers=headers)


def _status(value: Any) -> OperatorStatus:
    if isinstance(value, bool) or not isinstance(value, int) or value not in set(OperatorStatus):
        raise ChatError(400, "status must be 0 (Active), 1 (Inactive) or 2 (Deleted)", "status")
    return OperatorStatus(value)


def _sync_items(body: Any) -> Sequence[OperatorSync]:
    if not isinstance(body, list):
        raise ChatError(400, "The body must be a JSON array of {organizationId, name, id?}")
    if len(body) > MAX_SYNCHRONIZE:
        raise ChatError(400, f"At most {MAX_SYNCHRONIZE} operators in one request")
    items: list[OperatorSync] = []
    seen: set[int] = set()
    for index, raw in enumerate(body):
        where = f"[{index}]."
        found = fields_of(raw, f"Item {index}")
        operator_id = id_field(found, "id", where, optional=True)
        if operator_id is not None:
            if operator_id in seen:
                raise ChatError(400, f"id {operator_id} is named twice", f"{where}id")
            seen.add(operator_id)
        items.append(
            OperatorSync(
                id_field(found, "organizationId", where),
                name_field(found, "name", where),
                operator_id,
            )
        )
    return items


# --- refusals --------------------------------------------------------------------------------


def _respond(err: ChatError) -> Response[bytes]:
    return Response(
        problem_body(err),
        status_code=err.status,
        media_type=PROBLEM_JSON,
        headers=err.headers or None,
    )


def _on_chat_error(_: AnyRequest, exc: ChatError) -> Response[bytes]:
    return _respond(exc)


def _on_api_error(_: AnyRequest, exc: ApiError) -> Response[bytes]:
    """A shared helper's refusal (a body cut short)."""
    return _respond(ChatError(exc.status, exc.message, exc.field, exc.headers))


def _on_http(request: AnyRequest, exc: HTTPException) -> Response[bytes]:
    if exc.status_code >= 500:
        return _on_fault(request, exc)
    detail = "Request body is too large" if exc.status_code == 413 else str(exc.detail)
    return _respond(ChatError(exc.status_code, detail, headers=exc.headers or None))


def _on_fault(request: AnyRequest, exc: Exception) -> Response[bytes]:
    if isinstance(exc, StoreError):
        log.warning("store unavailable on %s %s: %s", request.method, route_of(request), exc)
        return _respond(
            ChatError(
                503,
                "Storage is unavailable; retry later",
                headers={"Retry-After": str(STORE_RETRY_AFTER_S)},
            )
        )
    log.error("server fault on %s %s", request.method, route_of(request), exc_info=exc)
    return _respond(ChatError(500, "Internal server error"))
