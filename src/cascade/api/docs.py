"""The machine-readable contract (`/openapi.json`) and its browsable page (`/docs`).

Answers are described by the wire Structs themselves. Request bodies are described by
hand, since a Struct says only the types the decoder checks and the document must say
every rule the server applies: lengths, ranges, patterns, which fields each message type
and each body form requires. The rules that are patterns (URLs, sender names) come from
the domain, where the server checks them; what no schema can say (a tracking id reused
with other content, a date more than 30 days ahead, a placeholder without its variable)
is in the descriptions. `tests/test_openapi_conformance.py` holds the document to the
server. The page is self-contained HTML: no scripts from elsewhere.
"""

from __future__ import annotations

import html
from typing import Any

import msgspec

from cascade import __version__
from cascade.api.bat import docs as bat_docs
from cascade.api.chathub import docs as chathub_docs
from cascade.api.wire import (
    MAX_JSON_DEPTH,
    Accepted,
    CancelledOut,
    DryRunOut,
    ErrorBody,
    StatusOut,
)
from cascade.callback_url import MAX_URL_LENGTH
from cascade.domain.cancel import MAX_CANCEL_IDS
from cascade.domain.delivery import CODE_PATTERN
from cascade.domain.message import (
    MAX_BATCH,
    MAX_BUTTON_TEXT,
    MAX_FROM_NAME,
    MAX_SURVEY_OPTION,
    MAX_SURVEY_TEXT,
    MAX_TEXT,
    MAX_TRACKING_ID,
    MAX_TTL,
    MAX_UPLOAD_VARIABLES,
    MAX_VARIABLES,
    NAME_FORBIDDEN,
    SURVEY_OPTIONS,
    MessageType,
)
from cascade.domain.phone import E164_PATTERN
from cascade.domain.variables import HTTP_URL_PATTERN, KINDS, MAX_VARIABLE_ID

_REF = "#/components/schemas/"
Schema = dict[str, Any]

NO_NUL = r"^[^\x00]*$"
E164 = f"^{E164_PATTERN}$"
# a digit string whose value is 0 … 2^31-1, leading zeros allowed
_INT31 = (
    r"^0*(?:[0-9]{1,9}|1[0-9]{9}|20[0-9]{8}|21[0-3][0-9]{7}|214[0-6][0-9]{6}"
    r"|2147[0-3][0-9]{5}|21474[0-7][0-9]{4}|214748[0-2][0-9]{3}|2147483[0-5][0-9]{2}"
    r"|21474836[0-3][0-9]|214748364[0-7])$"
)


def _ref(name: str) -> Schema:
    return {"$ref": _REF + name}


def _text(low: int, high: int, pattern: str = NO_NUL) -> Schema:
    return {"type": "string", "minLength": low, "maxLength": high, "pattern": pattern}


def _or_null(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def _variable(upload: bool) -> Schema:
    """A variable: inline in a message, or uploaded to the account (whose values are
    checked at once; an inline value only where a placeholder uses it)."""
    value: Schema = {"type": "string"}
    if upload:
        value = _text(0, MAX_TEXT)
    schema: Schema = {
        "type": "object",
        "required": ["id", "value"],
        "properties": {
            "id": {
                "anyOf": [
                    {"type": "integer", "minimum": 0, "maximum": MAX_VARIABLE_ID},
                    {"type": "string", "pattern": _INT31},
                ]
            },
            "value": value,
            "type": {"enum": [*KINDS, "", None]},
        },
    }
    if upload:
        schema["if"] = {"required": ["type"], "properties": {"type": {"const": "short_url"}}}
        schema["then"] = {"properties": {"value": {"pattern": HTTP_URL_PATTERN}}}
    return schema


def _message(form: str) -> Schema:
    """One message of the array form (`id`, `fromName`, `toPhone`, `messageType` required)
    or of the envelope (only the recipient required), one variant per message type."""
    array = form == "array"
    url: Schema = {"type": "string", "pattern": HTTP_URL_PATTERN}
    name_pattern = f"^[^{NAME_FORBIDDEN}]*$"
    typed: Schema = {  # what every message's fields must be, whatever its type
        "id": _text(1, MAX_TRACKING_ID),
        "fromName": _text(1, MAX_FROM_NAME, name_pattern),
        "toPhone": {"type": "string", "pattern": E164},
        "recipient": {"type": "string"},
        "ttl": {"type": "integer", "minimum": 1, "maximum": MAX_TTL},
        "scheduledSent": {"type": "string", "format": "date-time"},
        "scheduledTime": {"type": "string", "format": "date-time"},
        "variables": {"type": "array", "maxItems": MAX_VARIABLES, "items": _ref("Variable")},
        "text": {"type": "string"},
        "surveyOptions": {"type": "array", "items": {"type": "string"}},
        "fallback": {
            "type": "object",
            "properties": {
                "messageType": {"type": ["string", "null"]},
                "text": {"type": ["string", "null"]},
            },
        },
        "imageUrl": {"type": "string"},
        "buttonText": {"type": "string"},
        "buttonUrl": {"type": "string"},
    }
    # null is as good as absent, but not for what the array form requires
    properties = {
        name: rule if array and name in ("id", "fromName") else _or_null(rule)
        for name, rule in typed.items()
    }
    properties["messageType"] = {"enum": [t.value for t in MessageType] + ([] if array else [None])}
    required = ["id", "fromName", "messageType"] if array else []
    text = _text(1, MAX_TEXT)
    variants: list[Schema] = [
        {
            "title": "transaction",
            "properties": {
                "messageType": {"const": "transaction"}
                if array
                else {"enum": ["transaction", None]},
                "text": text,
            },
            "required": ["text"],
        },
        {
            "title": "promo",
            "properties": {
                "messageType": {"const": "promo"},
                "text": text,
                "imageUrl": _or_null(url),
                "buttonUrl": _or_null(url),
                "buttonText": _or_null(_text(1, MAX_BUTTON_TEXT)),
            },
            "required": ["messageType", "text"],
            "allOf": [
                {  # a button is its text and its URL, both or neither
                    "anyOf": [
                        {
                            "properties": {
                                "buttonText": {"type": "string"},
                                "buttonUrl": {"type": "string"},
                            },
                            "required": ["buttonText", "buttonUrl"],
                        },
                        {
                            "properties": {
                                "buttonText": {"type": "null"},
                                "buttonUrl": {"type": "null"},
                            }
                        },
                    ]
                }
            ],
        },
        {
            "title": "viber_survey",
            "properties": {
                "messageType": {"const": "viber_survey"},
                "text": _text(1, MAX_SURVEY_TEXT),
                "surveyOptions": {
                    "type": "array",
                    "minItems": SURVEY_OPTIONS[0],
                    "maxItems": SURVEY_OPTIONS[1],
                    "items": _text(1, MAX_SURVEY_OPTION),
                },
            },
            "required": ["messageType", "text", "surveyOptions"],
        },
        {
            "title": "flashcall",
            "properties": {
                "messageType": {"const": "flashcall"},
                "text": _or_null(_text(0, MAX_TEXT)),
                "fallback": _or_null(
                    {
                        "type": "object",
                        "required": ["text"],
                        "properties": {
                            "messageType": {"enum": ["transaction", "promo", "", None]},
                            "text": _text(1, MAX_TEXT),
                        },
                    }
                ),
            },
            "required": ["messageType"],
        },
    ]
    return {
        "type": "object",
        "description": (
            "A message. Unknown fields are ignored. The recipient is `toPhone`, or "
            "`recipient` when `toPhone` is absent; E.164 syntax, and a number the numbering "
            "plan says cannot exist is accepted and ends `undeliverable`. `scheduledSent` "
            "(alias `scheduledTime`) is ISO 8601, UTC when it has no offset, in the past "
            "means now, and more than 30 days ahead is `400 INVALID_SCHEDULE`. Placeholders "
            "`%name=N%`, `%url=N%`, `%short_url=N%` in `text` need their variable (inline or "
            "uploaded; else `400 UNKNOWN_VARIABLE`) and the text after substitution is held "
            "to the same length. A tracking `id` reused for other content is "
            "`400 DUPLICATE_ID`."
        ),
        "required": required,
        "properties": properties,
        "anyOf": [
            {"required": ["toPhone"], "properties": {"toPhone": {"type": "string"}}},
            {
                "required": ["recipient"],
                "properties": {
                    "toPhone": {"type": "null"},
                    "recipient": {"type": "string", "pattern": E164},
                },
            },
        ],
        "oneOf": variants,
    }


def _request_schemas() -> dict[str, Schema]:
    batch = {"minItems": 1, "maxItems": MAX_BATCH}
    cancel_ids = {
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_CANCEL_IDS,
        "items": {"type": "string", "minLength": 1, "pattern": NO_NUL},
    }
    return {
        "Variable": _variable(upload=False),
        "UploadedVariable": _variable(upload=True),
        "ArrayMessage": _message("array"),
        "EnvelopeMessage": _message("envelope"),
        "MessageArray": {"type": "array", "items": _ref("ArrayMessage"), **batch},
        "Envelope": {
            "type": "object",
            "required": ["messages"],
            "properties": {
                "messages": {"type": "array", "items": _ref("EnvelopeMessage"), **batch}
            },
        },
        "Items": {
            "type": "object",
            "required": ["variables"],
            "properties": {
                "variables": {
                    "type": "array",
                    "maxItems": MAX_UPLOAD_VARIABLES,
                    "items": _ref("UploadedVariable"),
                }
            },
        },
        "Verify": {
            "type": "object",
            "required": ["messageId", "code"],
            "properties": {
                "messageId": {"type": "string"},
                "code": {"type": "string", "pattern": CODE_PATTERN},
            },
        },
        "Cancel": {
            "type": "object",
            "description": "Exactly one of the two lists (both or neither: `400 "
            "INVALID_REQUEST`); an id given twice is answered once.",
            "oneOf": [{"required": ["messageIds"]}, {"required": ["trackingIds"]}],
            "properties": {
                "messageIds": cancel_ids,
                "trackingIds": cancel_ids,
            },
        },
        "Callback": {
            "type": "object",
            "required": ["url"],
            "properties": {
                "url": {"type": "string", "maxLength": MAX_URL_LENGTH, "pattern": HTTP_URL_PATTERN},
                "kind": CALLBACK_KIND,
            },
        },
    }


def openapi_document() -> dict[str, Any]:
    (error, accepted, status, cancelled, dry_run), components = msgspec.json.schema_components(
        [ErrorBody, list[Accepted], StatusOut, list[CancelledOut], list[DryRunOut]],
        ref_template=_REF + "{name}",
    )
    components.update(_request_schemas())
    components.update(bat_docs.schemas())
    components.update(chathub_docs.schemas())
    _as_numbers(components)
    security: list[dict[str, list[str]]] = [{"apiKey": []}, {"viberToken": []}, {"telegramKey": []}]

    def errors(*codes: int) -> dict[str, Any]:
        meaning = {
            400: "invalid request; nothing stored",
            401: "missing or invalid credentials",
            404: "not found",
            413: "body over the size limit",
            415: "body is not application/json",
            429: "rate limit exceeded; see Retry-After",
            500: "server fault",
            503: "the database cannot be reached; see Retry-After",
        }
        return {
            str(code): {
                "description": meaning[code],
                "content": {"application/json": {"schema": error}},
            }
            for code in codes
        }

    def body(schema: Schema) -> Schema:
        return {"required": True, "content": {"application/json": {"schema": schema}}}

    def ok(description: str, schema: Schema) -> Schema:
        return {"description": description, "content": {"application/json": {"schema": schema}}}

    posted = (400, 401, 413, 415, 429, 500, 503)
    send_op = {
        "security": security,
        "description": (
            f"The array form or the envelope. JSON nested more than {MAX_JSON_DEPTH} levels "
            "deep is `400 JSON_TOO_DEEP`; a body cut short is `400 INCOMPLETE_BODY`. "
            + DRY_RUN_RULES
        ),
        "parameters": [DRY_RUN_PARAMETER],
        "requestBody": body({"oneOf": [_ref("MessageArray"), _ref("Envelope")]}),
        "responses": {
            "200": ok(
                "accepted and committed, one item per message, in order; with "
                "`dryRun=true`, each message's route instead, nothing stored",
                {"oneOf": [accepted, dry_run]},
            ),
            **errors(*posted),
        },
    }
    status_ok = {"200": ok("the message", status), **errors(401, 404, 429, 500, 503)}
    path_id = {"name": "messageId", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Cascade API",
            "version": __version__,
            "description": "Multi-channel cascade messaging, wire-compatible with the "
            "SMSBAT Cascade API (`/api/…`), its core API (`/bat/…`) and ChatHub "
            "(`/api/company`, `/api/operator`, `/api/chat`; its errors are RFC 9457 problem "
            "documents).",
        },
        "paths": {
            "/api/CascadeMessage/send_message/async": {
                "post": {"summary": "Send through the standard cascade", **send_op}
            },
            "/api/CascadeMessage/send_message/tg-viber/async": {
                "post": {"summary": "Send through the Telegram-Viber priority cascade", **send_op}
            },
            "/api/items": {
                "post": {
                    "summary": "Upload account-level variable values (upsert)",
                    "security": security,
                    "requestBody": body(_ref("Items")),
                    "responses": {
                        "200": ok(
                            "stored; how many distinct variables",
                            {
                                "type": "object",
                                "required": ["updated"],
                                "properties": {"updated": {"type": "integer", "minimum": 0}},
                            },
                        ),
                        **errors(*posted),
                    },
                }
            },
            "/api/CascadeMessage/status/{messageId}": {
                "get": {
                    "summary": "Delivery status of one message",
                    "security": security,
                    "parameters": [path_id],
                    "responses": status_ok,
                }
            },
            "/api/CascadeMessage/status": {
                "get": {
                    "summary": "Delivery status by the client's tracking id",
                    "description": "`trackinId` (the provider's spelling) is read too.",
                    "security": security,
                    "parameters": [
                        {
                            "name": "trackingId",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string", "minLength": 1},
                        }
                    ],
                    "responses": {**status_ok, **errors(400)},
                }
            },
            "/api/CascadeMessage/verify": {
                "post": {
                    "summary": "Check the code a flash call carried (Cascade extension)",
                    "description": (
                        "A wrong code uses one of the 3 attempts; once none are left, or "
                        "once the code expired, even the right code is refused (`400` "
                        "`WRONG_CODE`, `ATTEMPTS_EXHAUSTED`, `CODE_EXPIRED`)."
                    ),
                    "security": security,
                    "requestBody": body(_ref("Verify")),
                    "responses": {
                        "200": ok(
                            "the code is right",
                            {
                                "type": "object",
                                "required": ["messageId", "verified"],
                                "properties": {
                                    "messageId": {"type": "string"},
                                    "verified": {"const": True},
                                },
                            },
                        ),
                        **errors(*posted, 404),
                    },
                }
            },
            "/api/CascadeMessage/cancel": {
                "post": {
                    "summary": "Cancel messages (Cascade extension)",
                    "description": CANCEL_RULES,
                    "security": security,
                    "requestBody": body(_ref("Cancel")),
                    "responses": {
                        "200": ok("one item per distinct id, in the order given", cancelled),
                        **errors(*posted),
                    },
                }
            },
            "/api/callbacks": {
                "post": {
                    "summary": "Register a status or incoming-message webhook (Cascade extension)",
                    "description": CALLBACK_RULES,
                    "security": security,
                    "requestBody": body(_ref("Callback")),
                    "responses": {
                        "200": ok(
                            "registered; the secret that signs its requests is shown only now",
                            {
                                "type": "object",
                                "required": ["id", "url", "kind", "secret"],
                                "properties": {
                                    "id": {"type": "string"},
                                    "url": {"type": "string"},
                                    "kind": CALLBACK_KIND,
                                    "secret": {"type": "string"},
                                },
                            },
                        ),
                        **errors(*posted),
                    },
                },
                "get": {
                    "summary": "The account's webhooks, of both kinds or of one",
                    "security": security,
                    "parameters": [
                        {
                            "name": "kind",
                            "in": "query",
                            "required": False,
                            "description": "only the webhooks of this kind (given at most "
                            "once; another value is `400 INVALID_KIND`)",
                            "schema": {"type": "string", "enum": ["status", "incoming"]},
                        }
                    ],
                    "responses": {
                        "200": ok(
                            "each webhook's id, URL and kind: the status ones first, each "
                            "kind in the order registered",
                            {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["id", "url", "kind"],
                                    "properties": {
                                        "id": {"type": "string"},
                                        "url": {"type": "string"},
                                        "kind": CALLBACK_KIND,
                                    },
                                },
                            },
                        ),
                        **errors(400, 401, 429, 500, 503),
                    },
                },
            },
            "/api/callbacks/{callbackId}": {
                "delete": {
                    "summary": "Stop sending anything to a webhook (either kind)",
                    "security": security,
                    "parameters": [
                        {
                            "name": "callbackId",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": ok(
                            "removed",
                            {
                                "type": "object",
                                "required": ["removed"],
                                "properties": {"removed": {"const": True}},
                            },
                        ),
                        **errors(401, 404, 429, 500, 503),
                    },
                }
            },
            "/s/{code}": {
                "get": {
                    "summary": "Short link: records the click and redirects",
                    "parameters": [
                        {
                            "name": "code",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "302": {
                            "description": "redirect to the target",
                            "headers": {
                                "Location": {"required": True, "schema": {"type": "string"}}
                            },
                        },
                        **errors(404, 500, 503),
                    },
                }
            },
            **bat_docs.paths(),
            **chathub_docs.paths(),
            "/healthz": {
                "get": {"summary": "Liveness", "responses": {"200": {"description": "up"}}}
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness: database reachable and schema current",
                    "responses": {
                        "200": {"description": "ready"},
                        "503": {"description": "not ready"},
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics of every API process (docs/operations.md)",
                    "responses": {
                        "200": {
                            "description": "the series, in Prometheus's text format 0.0.4",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "schemas": components,
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-Authorization-Key"},
                "viberToken": {"type": "apiKey", "in": "header", "name": "X-Viber-Auth-Token"},
                "telegramKey": {"type": "apiKey", "in": "header", "name": "X-Tg-Bot-Key"},
                **bat_docs.SECURITY_SCHEMES,
                **chathub_docs.SECURITY_SCHEMES,
            },
        },
    }


CALLBACK_KIND: dict[str, Any] = {
    "type": "string",
    "enum": ["status", "incoming"],
    "default": "status",
    "description": "`status`: every status change of the account's messages; `incoming`: "
    "every message people send back (an SMS to the account's sender, a Viber Business "
    'reply, an RCS user message), POSTed as `{"idUuid", "alphaName", "phoneNumber", '
    '"text", "dt"}`. Any other value is `400 INVALID_KIND`.',
}

DRY_RUN_RULES = (
    "`?dryRun=true` (a Cascade extension) validates the request as a real send and answers, "
    "per message, the route it would take now, decided by the engine's own planner: each "
    "step `will_try` or `skip` with the planner's reason (`NO_CHAT`, `NOT_SUBSCRIBED`, "
    "`BLOCKED`, `NOT_CONFIGURED` for a channel off or not set up, `CONTENT_NOT_CARRIED`, "
    "`NO_TEXT`, `TEXT_TOO_LONG`, `TTL_EXPIRED` for a step the TTL would not reach if every "
    "step before waited out its window, `INVALID_NUMBER`); a tried step's window "
    "(`windowSeconds`, 0 when the provider taking it is delivery), the latest instant it "
    "could start (`latestStartAt`), its parts and its price from the price table; "
    "`endsUnconfirmed`/`endReason`, how the message ends if no tried step is confirmed; "
    "`expectedCost` (the first tried step's price: the route stops at the first delivery) "
    "and `maxCost` (every tried step's), null when a price is missing. Nothing is stored "
    "and nothing is sent. An RCS step is `will_try`: the phone's capability is asked of the "
    "provider only when the step is sent. A tracking id stored before with other content is "
    "`400 DUPLICATE_ID`, as in a real send; with the same content the item is a repeat: "
    "its stored `messageId`, `route` null (nothing would be sent again)."
)

DRY_RUN_PARAMETER: dict[str, Any] = {
    "name": "dryRun",
    "in": "query",
    "required": False,
    "description": "`true`: preview the routes, store and send nothing (a Cascade "
    "extension); any value but `true` or `false` is `400`.",
    "schema": {"type": "boolean", "default": False},
}


def _as_numbers(node: Any) -> None:
    """Amounts are Decimals encoded as JSON numbers (exact, `decimal_format="number"`),
    not as the strings msgspec's schema assumes."""
    if isinstance(node, dict):
        places: list[tuple[Any, Any]] = list(node.items())
    elif isinstance(node, list):
        places = list(enumerate(node))
    else:
        return
    for key, value in places:
        if value == _DECIMAL:
            node[key] = {"type": "number"}
        else:
            _as_numbers(value)


_DECIMAL = {"type": "string", "format": "decimal"}


CANCEL_RULES = (
    "By Cascade's message ids (`messageIds`) or by the client's tracking ids (`trackingIds`), "
    f"1 to {MAX_CANCEL_IDS}; it serves messages sent through `/bat/messagelist` too (the "
    "same messages: `messageIds`, or `trackingIds` holding their `customerMessageId`). Each "
    "message not yet final and with no step in flight ends `cancelled` at once and is never "
    "sent; one whose step is in flight (sent and waiting for its report, or being sent "
    "now) answers `cancelling` and ends `cancelled` once that step's outcome is known, with "
    "no further step taken — unless that step delivers, when it is `delivered`. A final "
    "message is left alone and answered with its status (`delivered`, `read`, "
    "`undeliverable`, `expired`, `cancelled`). An unknown id, or another account's, is "
    "`not_found` and changes nothing. A cancelled message's status webhooks are sent like "
    "those of any final status (reason `CANCELLED`). Asking again changes nothing."
)

CALLBACK_RULES = (
    "Registers a URL that receives every status change of this account's messages (`kind` "
    "`status`, the default) or every message people send back (`kind` `incoming`), POSTed "
    "as JSON with `X-Cascade-Signature: sha256=<hex HMAC-SHA256 of the body keyed by the "
    "returned secret>`. The URL is absolute `http` or `https`, at most "
    f"{MAX_URL_LENGTH} characters, without whitespace, control characters or credentials "
    "(`user:password@`); its host is a DNS name, a dotted-quad IPv4 address or a bracketed "
    "IPv6 address, and every address it resolves to must be on the public internet: "
    "loopback, private, shared (100.64.0.0/10), link-local, unique-local, multicast, "
    "reserved and cloud-metadata addresses are refused, and so are names that do not "
    "resolve (`400 INVALID_URL`). The same rule is applied again at every delivery, to the "
    "address connected to; a delivery it refuses counts as failed. Redirects are not "
    "followed. Answer 2xx to acknowledge; anything else, 3xx included, or no answer, is "
    "retried with exponential backoff (1 s … 10 min). An installation may allow loopback "
    "and private receivers with `CASCADE_ALLOW_PRIVATE_CALLBACKS=1` (the default of "
    "`cascade up`), never link-local or metadata addresses."
)


def docs_page() -> str:
    document = openapi_document()
    rows = []
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            codes = ", ".join(sorted(op.get("responses", {})))
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}</code>"
                f"</td><td>{html.escape(op.get('summary', ''))}</td><td>{codes}</td></tr>"
            )
    schemas = []
    for name, schema in document["components"]["schemas"].items():
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        items = "".join(
            f"<li><code>{html.escape(prop)}</code>{' (required)' if prop in required else ''}: "
            f"{html.escape(_type_name(spec))}</li>"
            for prop, spec in props.items()
        )
        schemas.append(f"<h3>{html.escape(name)}</h3><ul>{items}</ul>")
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Cascade API</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "td,th{padding:.3em .6em;border-bottom:1px solid #ddd;text-align:left}</style></head>"
        f"<body><h1>Cascade API {html.escape(document['info']['version'])}</h1>"
        f"<p>{html.escape(document['info']['description'])} Machine-readable: "
        "<a href='/openapi.json'>/openapi.json</a>.</p>"
        "<p>Authenticate with <code>X-Authorization-Key</code>, <code>X-Viber-Auth-Token</code> "
        "or <code>X-Tg-Bot-Key</code>. Errors carry "
        '<code>{"error": {"code", "message", "field"}}</code>.</p>'
        "<table><tr><th>Method</th><th>Path</th><th>What</th><th>Statuses</th></tr>"
        + "".join(rows)
        + "</table><h2>Schemas</h2>"
        + "".join(schemas)
        + "</body></html>"
    )


def _type_name(spec: dict[str, Any]) -> str:
    if "$ref" in spec:
        return str(spec["$ref"]).removeprefix(_REF)
    if "anyOf" in spec:
        return " | ".join(_type_name(s) for s in spec["anyOf"])
    if spec.get("type") == "array":
        return f"array of {_type_name(spec.get('items', {}))}"
    return str(spec.get("type", "any"))
