"""ChatHub's shapes on the wire (SPEC E1-E2): the error body, reading request bodies, and
the answers.

A tolerant reader: the provider's service binds JSON the ASP.NET way, property names in
any case (its own client sends `{Name, Format, …}` to the hub and `{login, password}` to
REST), so field names are matched without regard to case; unknown fields are ignored.
A strict writer: answers use the provider's camelCase names.

Every refusal is an RFC 9457 problem document (`application/problem+json`):
`{"status": 400, "title": "Bad Request", "detail": "expiresAt is in the past",
"field": "expiresAt"}`; `field` (a Cascade addition) names where the fault is, when one
field is at fault.
"""

from __future__ import annotations

from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import msgspec

from cascade.domain.chats import Operator, Organization, is_id, name_problem

PROBLEM_JSON = "application/problem+json"

# limits the routes apply and the OpenAPI document states (`cascade.api.chathub.docs`)
MAX_SYNCHRONIZE = 1_000  # operators in one synchronize request
CHATS_PER_PAGE = 20  # `GET /api/chat/chats`'s page when `per_page` is not given
MESSAGES_PER_PAGE = 50  # `GET /api/chat/{chatId}/messages`'s
MAX_PAGE = 10**9
MAX_SEARCH = 200  # characters of `search`
TG_USER_ID_PATTERN = "-?[0-9]{1,19}"  # `tg_user_id`: a Telegram chat id
# `phone`: E.164, its + optional; an unescaped + arrives as a space
PHONE_QUERY_PATTERN = r" ?\+?([0-9]{6,15})"


class ChatError(Exception):
    """The request is refused with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.field = field
        self.headers = headers or {}


class Problem(msgspec.Struct, frozen=True, omit_defaults=True):
    status: int
    title: str
    detail: str
    field: str | None = None


def problem_body(err: ChatError) -> bytes:
    try:
        title = HTTPStatus(err.status).phrase
    except ValueError:
        title = "Error"
    return msgspec.json.encode(Problem(err.status, title, err.detail, err.field))


# --- reading -----------------------------------------------------------------------------


def decode_json(body: bytes) -> Any:
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise ChatError(400, "The body is not valid JSON") from None


def fields_of(value: Any, what: str = "The body") -> dict[str, Any]:
    """A JSON object's members by lower-cased name (the first of each name wins)."""
    if not isinstance(value, dict):
        raise ChatError(400, f"{what} must be a JSON object")
    found: dict[str, Any] = {}
    for name, member in value.items():
        found.setdefault(name.lower(), member)
    return found


def required(found: dict[str, Any], name: str, where: str = "") -> Any:
    value = found.get(name.lower())
    if value is None:
        raise ChatError(400, f"Missing required field: {where}{name}", f"{where}{name}")
    return value


def text_field(found: dict[str, Any], name: str, where: str = "") -> str:
    value = required(found, name, where)
    if not isinstance(value, str):
        raise ChatError(400, f"{where}{name} must be a string", f"{where}{name}")
    return value


def id_field(found: dict[str, Any], name: str, where: str = "", *, optional: bool = False) -> Any:
    """An id (`cascade.domain.chats.is_id`); None when optional and absent or null."""
    value = found.get(name.lower())
    if value is None and optional:
        return None
    value = required(found, name, where)
    if not is_id(value):
        raise ChatError(
            400, f"{where}{name} must be a whole number from 1 to 2^53-1", f"{where}{name}"
        )
    return value


def name_field(found: dict[str, Any], name: str, where: str = "") -> str:
    value = text_field(found, name, where).strip()
    problem = name_problem(value)
    if problem is not None:
        raise ChatError(400, f"{where}{name}: {problem}", f"{where}{name}")
    return value


def query_id(raw: str, name: str) -> int:
    """An id from the query string (400 otherwise)."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 16 or not is_id(int(raw)):
        raise ChatError(400, f"{name} must be a whole number from 1 to 2^53-1", name)
    return int(raw)


def instant_field(found: dict[str, Any], name: str) -> int | None:
    """An ISO 8601 date and time as epoch milliseconds (one without a zone is UTC, as
    .NET reads it); None when absent."""
    value = found.get(name.lower())
    if value is None:
        return None
    if not isinstance(value, str):
        raise ChatError(400, f"{name} must be an ISO 8601 date and time", name)
    try:
        parsed = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        raise ChatError(
            400, f"{name} must be an ISO 8601 date and time, e.g. 2026-01-01T12:00:00Z", name
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def iso_ms(at_ms: int) -> str:
    """Epoch milliseconds as ISO 8601 in UTC, to the second: `2026-01-01T12:00:00Z`."""
    return datetime.fromtimestamp(at_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def wants_text(accept: str | None) -> bool:
    """Whether the client asked for the bare token (`Accept: text/plain`, SPEC E1): it
    names text/plain and not JSON. Anything else, `*/*` and no header included, gets
    JSON."""
    if not accept:
        return False
    types = {part.split(";", 1)[0].strip().lower() for part in accept.split(",")}
    return "text/plain" in types and "application/json" not in types


# --- answers -----------------------------------------------------------------------------


class TokenOut(msgspec.Struct, frozen=True):
    token: str
    expiration: str


class ValidationOut(msgspec.Struct, frozen=True):
    isValid: bool  # noqa: N815 - the provider's name
    operatorId: int | None  # noqa: N815
    clientId: str | None  # noqa: N815
    expiresAt: str | None  # noqa: N815
    error: str | None


class OrganizationOut(msgspec.Struct, frozen=True):
    id: int
    name: str


class OperatorOut(msgspec.Struct, frozen=True):
    id: int
    name: str
    status: int
    organization: OrganizationOut


def organization_out(org: Organization) -> OrganizationOut:
    return OrganizationOut(org.id, org.name)


def operator_out(op: Operator, organizations: dict[int, Organization]) -> OperatorOut:
    org = organizations[op.organization_id]
    return OperatorOut(op.id, op.name, int(op.status), OrganizationOut(org.id, org.name))


ENCODER = msgspec.json.Encoder()
