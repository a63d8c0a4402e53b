"""ChatHub's part of the OpenAPI document (SPEC Part E, REST), merged into `/openapi.json`
by `cascade.api.docs`.

Answers are described by the wire Structs (`wire.py`, `conversations.py`), their schemas
named `Chat…`; every refusal is the RFC 9457 problem document
(`application/problem+json`). Request bodies are described by hand with the limits the
routes check (`wire.py`'s constants, the domain's). What a schema cannot say is in the
descriptions: names are matched without regard to case, as the provider's ASP.NET
service binds them (`Login` is `login`); a chat or operator the caller may not see is
404, as one that does not exist. `tests/test_chathub_openapi.py` holds the document to
the routes.
"""

from __future__ import annotations

from typing import Any

import msgspec

from cascade.api.chathub.conversations import ChatOut, MessageOut
from cascade.api.chathub.wire import (
    CHATS_PER_PAGE,
    MAX_PAGE,
    MAX_SEARCH,
    MAX_SYNCHRONIZE,
    MESSAGES_PER_PAGE,
    PHONE_QUERY_PATTERN,
    PROBLEM_JSON,
    TG_USER_ID_PATTERN,
    OperatorOut,
    OrganizationOut,
    Problem,
    TokenOut,
    ValidationOut,
)
from cascade.domain.chats import (
    MAX_ID,
    MAX_MEDIA_BYTES,
    MAX_PER_PAGE,
    MEDIA_NAME_MAX,
    NAME_MAX,
    ChatStatus,
    OperatorStatus,
)

Schema = dict[str, Any]
PREFIX = "Chat"
_REF = "#/components/schemas/"
_ID: Schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
_ID_IN_BODY: Schema = {**_ID, "description": 'a JSON integer: 1, not 1.0 or "1"'}
# a name: something besides blanks, and no control characters (`domain.chats`)
_NAME_PATTERN = r"^[^\u0000-\u001f\u007f]*[^\s\u0000-\u001f\u007f][^\u0000-\u001f\u007f]*$"
_MEDIA_NAME_PATTERN = (
    r"^[^\u0000-\u001f\u007f/\\\"]*[^\s\u0000-\u001f\u007f/\\\"][^\u0000-\u001f\u007f/\\\"]*$"
)
_COMPANY: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]
_STATUSES = "0 New, 1 Open, 2 Waiting, 3 OnPause, 4 Closed"


def _ref(name: str) -> Schema:
    return {"$ref": f"{_REF}{PREFIX}{name}"}


def _obj(properties: Schema, required: tuple[str, ...] = ()) -> Schema:
    return {"type": "object", "properties": properties, "required": list(required)}


def schemas() -> dict[str, Schema]:
    """ChatHub's components, each name prefixed `Chat`."""
    _, answers = msgspec.json.schema_components(
        [TokenOut, ValidationOut, OrganizationOut, OperatorOut, ChatOut, MessageOut, Problem],
        ref_template=f"{_REF}{PREFIX}{{name}}",
    )
    answers["Problem"]["description"] = (
        "RFC 9457: `status` and `title` are the HTTP status and its phrase, `detail` says "
        "what is wrong, `field` (a Cascade addition) names the field at fault when one is"
    )
    status = {"type": "integer", "enum": [int(s) for s in ChatStatus], "description": _STATUSES}
    answers["ChatOut"]["properties"]["chatStatus"] = status
    ours: dict[str, Schema] = {
        "ChatPage": _obj(
            {
                "total": {"type": "integer", "minimum": 0},
                "items": {"type": "array", "items": _ref("ChatOut")},
            },
            ("total", "items"),
        ),
        "Login": _obj(
            {"login": {"type": "string"}, "password": {"type": "string"}}, ("login", "password")
        ),
        "OperatorTokenRequest": _obj(
            {
                "id": _ID_IN_BODY,
                "expiresAt": {
                    "anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}],
                    "description": "ISO 8601 (UTC when it has no offset); in the future and "
                    "at most 24 hours ahead; left out: 24 hours",
                },
            },
            ("id",),
        ),
        "TokenToValidate": _obj({"token": {"type": "string"}}, ("token",)),
        "OperatorSync": {
            "type": "array",
            "maxItems": MAX_SYNCHRONIZE,
            "items": _obj(
                {
                    "organizationId": _ID_IN_BODY,
                    "name": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": NAME_MAX,
                        "pattern": _NAME_PATTERN,
                    },
                    "id": {"anyOf": [_ID_IN_BODY, {"type": "null"}]},
                },
                ("organizationId", "name"),
            ),
            "description": "each `id` at most once; an item without one gets a new id",
        },
        "OperatorStatusChange": _obj(
            {
                "id": _ID_IN_BODY,
                "status": {
                    "type": "integer",
                    "enum": [int(s) for s in OperatorStatus],
                    "description": "0 Active, 1 Inactive, 2 Deleted",
                },
            },
            ("id", "status"),
        ),
        "ChatStatusChange": _obj({"id": _ID_IN_BODY, "status": status}, ("id", "status")),
        "OperatorMessage": _obj(
            {
                "textMessage": {"type": ["string", "null"]},
                "author": {"const": 0, "description": "0: an operator's message"},
                "media": {
                    "anyOf": [
                        _obj(
                            {
                                "name": {
                                    "type": "string",
                                    "minLength": 1,
                                    "maxLength": MEDIA_NAME_MAX,
                                    "pattern": _MEDIA_NAME_PATTERN,
                                },
                                "format": {
                                    "type": ["string", "null"],
                                    "description": "a MIME type (image/jpeg) or an extension",
                                },
                                "dataBase64": {
                                    "type": "string",
                                    "pattern": "\\S",
                                    "description": "base64 (or a data: URL); decoded, at most "
                                    f"{MAX_MEDIA_BYTES} bytes (413 above)",
                                },
                                "type": {"type": ["integer", "null"]},
                            },
                            ("name", "dataBase64"),
                        ),
                        {"type": "null"},
                    ]
                },
            }
        ),
    }
    return {PREFIX + name: schema for name, schema in (answers | ours).items()}


_MEANING = {
    400: "the request is invalid (`field` names what)",
    401: "no valid credentials (see WWW-Authenticate)",
    403: "the account is suspended, or an operator token where a company's is needed",
    404: "no such thing, or not one the caller may see",
    413: "body over the size limit, or media over 20 MB",
    415: "Content-Type is not application/json",
    409: "the chat's channel is not enabled on this installation",
    429: "rate limit exceeded, or (get-token) too many failed sign-ins from the client's "
    "address or for the login; see Retry-After",
    500: "server fault",
    503: "the database cannot be reached; see Retry-After",
}


def _errors(*codes: int) -> dict[str, Any]:
    return {
        str(code): {
            "description": _MEANING[code],
            "content": {PROBLEM_JSON: {"schema": _ref("Problem")}},
        }
        for code in codes
    }


def _ok(description: str, schema: Schema) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(name: str) -> Schema:
    return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}


def _param(name: str, where: str, schema: Schema, description: str = "") -> Schema:
    found: Schema = {"name": name, "in": where, "required": where == "path", "schema": schema}
    if description:
        found["description"] = description
    return found


def _filter(name: str, schema: Schema, description: str = "") -> Schema:
    """A query parameter that, given empty, is as if left out."""
    return _param(name, "query", {"anyOf": [schema, _EMPTY]}, description)


def _page(default: int, most: int) -> list[Schema]:
    return [
        _filter("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1}),
        _filter("per_page", {"type": "integer", "minimum": 1, "maximum": most, "default": default}),
    ]


_EMPTY: Schema = {"type": "string", "maxLength": 0}
_DAY_OR_INSTANT: Schema = {
    "anyOf": [
        {"type": "string", "format": "date"},
        {"type": "string", "format": "date-time"},
        _EMPTY,
    ]
}


_BYTES = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
_TOKEN_OK: Schema = {
    "description": "the token and when it expires; with `Accept: text/plain`, the bare token",
    "content": {
        "application/json": {"schema": _ref("TokenOut")},
        "text/plain": {"schema": {"type": "string"}},
    },
}
_POSTED = (400, 413, 415, 500, 503)
_READ = (401, 403, 404, 429, 500, 503)


def paths() -> dict[str, Any]:
    chat_id = _param("chatId", "path", _ID)
    return {
        "/api/company/get-token": {
            "post": {
                "summary": "ChatHub: a company token for the account's login (E1)",
                "requestBody": _body("Login"),
                "responses": {"200": _TOKEN_OK, **_errors(*_POSTED, 401, 403, 429)},
            }
        },
        "/api/operator/get-token": {
            "post": {
                "summary": "ChatHub: an operator's token (a company's call)",
                "security": _COMPANY,
                "requestBody": _body("OperatorTokenRequest"),
                "responses": {"200": _TOKEN_OK, **_errors(*_POSTED, *_READ)},
            }
        },
        "/api/operator/validate-token": {
            "post": {
                "summary": "ChatHub: whether a token is valid, and whose",
                "requestBody": _body("TokenToValidate"),
                "responses": {
                    "200": _ok("the verdict (`error` says why it is not)", _ref("ValidationOut")),
                    **_errors(*_POSTED),
                },
            }
        },
        "/api/company/organization": {
            "get": {
                "summary": "ChatHub: the organizations the caller sees",
                "security": _COMPANY,
                "responses": {
                    "200": _ok(
                        "a company's all, an operator's own",
                        {"type": "array", "items": _ref("OrganizationOut")},
                    ),
                    **_errors(401, 403, 429, 500, 503),
                },
            }
        },
        "/api/operator": {
            "get": {
                "summary": "ChatHub: the operators of the organizations the caller sees",
                "security": _COMPANY,
                "parameters": [_param("organizationId", "query", _ID, "only this one's")],
                "responses": {
                    "200": _ok("the operators", {"type": "array", "items": _ref("OperatorOut")}),
                    **_errors(400, *_READ),
                },
            }
        },
        "/api/operator/synchronize": {
            "post": {
                "summary": "ChatHub: upsert the company's operators (E2)",
                "description": "An item with an `id` updates the operator of that id (name, "
                "organization) or creates it with that id; one without gets the next id "
                "after the account's highest. Operators left out are kept.",
                "security": _COMPANY,
                "requestBody": _body("OperatorSync"),
                "responses": {
                    "200": _ok(
                        "the operators named, as stored",
                        {"type": "array", "items": _ref("OperatorOut")},
                    ),
                    **_errors(*_POSTED, *_READ),
                },
            }
        },
        "/api/operator/status": {
            "post": {
                "summary": "ChatHub: set an operator's status (its chats are placed anew)",
                "security": _COMPANY,
                "requestBody": _body("OperatorStatusChange"),
                "responses": {
                    "200": _ok("the operator", _ref("OperatorOut")),
                    **_errors(*_POSTED, *_READ),
                },
            }
        },
        "/api/chat/chats": {
            "get": {
                "summary": "ChatHub: the chats the caller sees, filtered and paged (E3)",
                "description": "Newest last message first. An operator token sees its "
                "organization's chats, a company every chat of its account.",
                "security": _COMPANY,
                "parameters": [
                    *_page(CHATS_PER_PAGE, MAX_PER_PAGE),
                    _param(
                        "search",
                        "query",
                        {"type": "string", "maxLength": MAX_SEARCH, "pattern": "^[^\\u0000]*$"},
                        "in the person's name, phone or address, the theme, the messages "
                        "(blanks around it are ignored)",
                    ),
                    _filter(
                        "source", {"type": "integer", "enum": [1, 2]}, "1 Viber bot, 2 Telegram"
                    ),
                    _param(
                        "date",
                        "query",
                        {"type": "array", "maxItems": 2, "items": _DAY_OR_INSTANT},
                        "a day (2026-01-31) or an ISO 8601 instant (UTC without an offset); "
                        "twice for a range (the first not after the second); bounds the last "
                        "message",
                    ),
                    _filter(
                        "tg_user_id",
                        {"type": "string", "pattern": f"^{TG_USER_ID_PATTERN}$"},
                        "a Telegram chat id (then `source`, if given, is 2)",
                    ),
                    _filter(
                        "phone",
                        {"type": "string", "pattern": f"^{PHONE_QUERY_PATTERN}$"},
                        "E.164",
                    ),
                    _filter(
                        "status",
                        {"type": "integer", "enum": [int(s) for s in ChatStatus]},
                        _STATUSES,
                    ),
                    _filter("organizationId", _ID),
                    _filter("operatorId", _ID),
                ],
                "responses": {"200": _ok("a page", _ref("ChatPage")), **_errors(400, *_READ)},
            }
        },
        "/api/chat/status": {
            "put": {
                "summary": "ChatHub: set a chat's status",
                "security": _COMPANY,
                "requestBody": _body("ChatStatusChange"),
                "responses": {
                    "200": _ok("the chat", _ref("ChatOut")),
                    **_errors(*_POSTED, *_READ),
                },
            }
        },
        "/api/chat/chats/{chatId}": {
            "delete": {
                "summary": "ChatHub: remove a chat, its messages and their media",
                "security": _COMPANY,
                "parameters": [chat_id],
                "responses": {"204": {"description": "removed"}, **_errors(*_READ)},
            }
        },
        "/api/chat/{chatId}/messages": {
            "get": {
                "summary": "ChatHub: a chat's messages, oldest first, paged",
                "description": "A page never shifts: a new message goes at the end. "
                "Reading marks the chat read.",
                "security": _COMPANY,
                "parameters": [chat_id, *_page(MESSAGES_PER_PAGE, MAX_PER_PAGE)],
                "responses": {
                    "200": _ok("the page", {"type": "array", "items": _ref("MessageOut")}),
                    **_errors(400, *_READ),
                },
            }
        },
        "/api/chat/{chatId}/message": {
            "post": {
                "summary": "ChatHub: an operator's message, sent to the person through the bot",
                "security": _COMPANY,
                "parameters": [chat_id],
                "requestBody": _body("OperatorMessage"),
                "responses": {
                    "200": _ok("the stored message and its status", _ref("MessageOut")),
                    **_errors(*_POSTED, *_READ, 409),
                },
            }
        },
        "/api/chat/{chatId}/media/{mediaId}": {
            "get": {
                "summary": "ChatHub: a media's bytes, served with its type",
                "security": _COMPANY,
                "parameters": [chat_id, _param("mediaId", "path", _ID)],
                "responses": {
                    "200": {"description": "the bytes", "content": _BYTES},
                    **_errors(*_READ),
                },
            }
        },
        "/api/chat/media/public/{token}/{name}": {
            "get": {
                "summary": "ChatHub: an operator's upload at its public URL, for Viber",
                "description": "No credentials: the random token is the key. Each client "
                "address is held to CASCADE_PUBLIC_MEDIA_RATE / _BURST.",
                "parameters": [
                    _param("token", "path", {"type": "string"}),
                    _param("name", "path", {"type": "string"}),
                ],
                "responses": {
                    "200": {"description": "the bytes", "content": _BYTES},
                    **_errors(404, 429, 500, 503),
                },
            }
        },
    }


SECURITY_SCHEMES: dict[str, Schema] = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "a ChatHub company or operator token (POST /api/company/get-token, "
        "/api/operator/get-token); an API key in X-Authorization-Key serves as a company's",
    }
}
