"""The core API's part of the OpenAPI document (SPEC Part D), merged into `/openapi.json`
by `cascade.api.docs`.

Answers are described by the wire Structs (`wire.py`), their schemas named `Bat…` beside
the Cascade API's. The message list is described by hand with every spelling D3 accepts,
one variant per `type` with its required fields and limits (the constants `validate.py`
checks with). What no schema says is in the descriptions: a list answers 200 while it
has one valid message, each invalid one `rejected` with its error (D4); a
`customerMessageId` reused for other content is 1008; SMS text is held to the parts the
account's limit allows, not to a length.
"""

from __future__ import annotations

from typing import Any

import msgspec

from cascade.api.bat.errors import Code
from cascade.api.bat.validate import (
    CAROUSEL_ITEMS,
    FILE_TYPES,
    MAX_BUTTON_TEXT,
    MAX_CARD_BUTTONS,
    MAX_CAROUSEL_TITLE,
    MAX_CHIPS,
    MAX_FILE_NAME,
    MAX_RCS_TEXT,
    MAX_SMS_PARTS,
    MAX_SUGGESTION_TEXT,
    MAX_VIBER_TEXT,
    RCS_ACTIONS,
    RCS_CARDS,
    BatType,
)
from cascade.api.bat.wire import MAX_PAGE, MAX_PER_PAGE, ErrorBody, ListOut, ListPageOut, StatusOut
from cascade.domain.message import (
    MAX_BATCH,
    MAX_FROM_NAME,
    MAX_SURVEY_OPTION,
    MAX_SURVEY_TEXT,
    MAX_TRACKING_ID,
    MAX_TTL,
    SURVEY_OPTIONS,
)
from cascade.domain.surfaces import DeliveryStatus, StepStatus

Schema = dict[str, Any]
PREFIX = "Bat"
_REF = "#/components/schemas/"
_URL: Schema = {"type": "string", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^\\s]+$"}
_STR: Schema = {"type": "string"}
_SECURITY: list[dict[str, list[str]]] = [{"apiKey": []}, {"basic": []}]


def _ref(name: str) -> Schema:
    return {"$ref": f"{_REF}{PREFIX}{name}"}


def _obj(properties: Schema, required: tuple[str, ...] = ()) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def _text(most: int) -> Schema:
    return {"type": "string", "minLength": 1, "maxLength": most}


def _button_in() -> Schema:
    return _obj({"text": _text(MAX_BUTTON_TEXT), "url": _URL}, ("text", "url"))


def _rcs_button() -> Schema:
    action = _obj(
        {
            "type": {"enum": list(RCS_ACTIONS)},
            "url": _URL,
            "phoneNumber": _STR,
            "title": _STR,
            "description": _STR,
            "startTime": {"type": "string", "format": "date-time"},
            "endTime": {"type": "string", "format": "date-time"},
        },
        ("type",),
    )
    action["description"] = (
        "openUrl needs `url`, dial `phoneNumber`, createCalendarEvent `title`, `startTime` "
        "and `endTime`; without an action the button is a suggested reply."
    )
    return _obj({"text": _text(MAX_SUGGESTION_TEXT), "action": action}, ("text",))


def _media() -> Schema:
    return _obj(
        {
            "url": _URL,
            "type": {"type": "string", "description": "image or video (or their MIME types)"},
            "height": {"enum": ["SHORT", "MEDIUM", "TALL", "short", "medium", "tall"]},
            "width": {"enum": ["SMALL", "MEDIUM", "small", "medium"]},
            "thumbnail": _URL,
        },
        ("url",),
    )


def _message_data() -> Schema:
    low, high = SURVEY_OPTIONS
    options: Schema = {
        "type": "array",
        "minItems": low,
        "maxItems": high,
        "items": _text(MAX_SURVEY_OPTION),
    }
    carousel_button = _obj({"label": _STR, "actionUrl": _URL}, ("label", "actionUrl"))
    item = _obj(
        {
            "title": _text(MAX_CAROUSEL_TITLE),
            "imageUrl": _URL,
            "primaryButton": carousel_button,
            "secondaryButton": carousel_button,
        },
        ("title", "imageUrl", "primaryButton"),
    )
    card = _obj(
        {
            "title": _STR,
            "description": _STR,
            "media": _ref("Media"),
            "buttons": {"type": "array", "maxItems": MAX_CARD_BUTTONS, "items": _ref("Button")},
        }
    )
    schema = _obj(
        {
            # viber_promo
            "image": _URL,
            "img": _URL,
            "buttonText": _text(MAX_BUTTON_TEXT),
            "buttonAction": _URL,
            "button": _button_in(),
            "video": _URL,
            "thumbnail": _URL,
            "fileSize": {"type": "integer", "minimum": 1},
            "duration": {"type": "integer", "minimum": 1},
            # viber_trans
            "fileUrl": _URL,
            "fileName": _text(MAX_FILE_NAME),
            "fileType": {"enum": sorted(FILE_TYPES)},
            # viber_otp
            "templateId": {"type": "string", "format": "uuid"},
            "templateLang": _STR,
            "templateParams": {
                "type": "object",
                "additionalProperties": {"type": ["string", "integer"]},
                "propertyNames": {
                    "enum": [
                        "pin",
                        "business_platform_name",
                        "code_validity_time",
                        "pin_type",
                        "code_reason",
                    ]
                },
            },
            # viber_survey
            "survey": _obj({"options": options}, ("options",)),
            "options": options,
            "surveyOptions": options,
            # viber_carousel (items), rcs (cards)
            "carousel": _obj(
                {
                    "items": {
                        "type": "array",
                        "minItems": CAROUSEL_ITEMS[0],
                        "maxItems": CAROUSEL_ITEMS[1],
                        "items": item,
                    },
                    "cards": {
                        "type": "array",
                        "minItems": RCS_CARDS[0],
                        "maxItems": RCS_CARDS[1],
                        "items": card,
                    },
                }
            ),
            # rcs
            "media": _ref("Media"),
            "buttons": {"type": "array", "maxItems": MAX_CHIPS, "items": _ref("Button")},
            "suggestions": {"type": "array", "maxItems": MAX_CHIPS, "items": _ref("Button")},
            # flashcall
            "callerId": {"type": ["string", "integer"]},
        }
    )
    schema["description"] = (
        "Type-specific content, every spelling of D3: viber_promo `image`/`img` and a "
        "button (`buttonText` + `buttonAction`, or `button: {text, url}`), or `video` + "
        "`thumbnail`; viber_trans `fileUrl` (+ `fileName`, `fileType`); viber_otp "
        "`templateId` (one of the installation's templates), `templateLang`, "
        "`templateParams` with the template's required parameters (`pin` always); "
        "viber_survey `survey.options` (also `options`, `surveyOptions`); viber_carousel "
        "`carousel.items`; rcs `media` (+ `buttons`, a rich card), `carousel.cards`, "
        "`suggestions`; flashcall `callerId` (its last digits are the code)."
    )
    return schema


def _fallback() -> Schema:
    return _obj(
        {
            "type": {"enum": [t.value for t in BatType]},
            "text": _STR,
            "messageData": _ref("MessageData"),
        },
        ("type",),
    )


def _message() -> Schema:
    text_limit: dict[BatType, int] = {
        BatType.VIBER_PROMO: MAX_VIBER_TEXT,
        BatType.VIBER_TRANS: MAX_VIBER_TEXT,
        BatType.VIBER_SURVEY: MAX_SURVEY_TEXT,
        BatType.RCS: MAX_RCS_TEXT,
    }
    schema = _obj(
        {
            "from": {"type": "string", "minLength": 1, "maxLength": 28},
            "to": {"type": ["string", "integer"], "pattern": "^\\+?[1-9][0-9]{7,14}$"},
            "recipient": {"type": ["string", "integer"], "pattern": "^\\+?[1-9][0-9]{7,14}$"},
            "type": {"enum": [t.value for t in BatType]},
            "text": _STR,
            "ttl": {
                "anyOf": [
                    {"type": "integer", "minimum": 1, "maximum": MAX_TTL},
                    {"type": "string", "pattern": "^[0-9]+$"},
                ]
            },
            "customerMessageId": {"type": "string", "maxLength": MAX_TRACKING_ID},
            "scheduledSent": {"type": "string", "format": "date-time"},
            "sheduledSent": {"type": "string", "format": "date-time"},
            "scheduledTime": {"type": "string", "format": "date-time"},
            "messageData": _ref("MessageData"),
            "fallback": {
                "anyOf": [
                    _ref("Fallback"),
                    {"type": "array", "minItems": 1, "items": _ref("Fallback")},
                ]
            },
        },
        ("from", "type"),
    )
    schema["anyOf"] = [{"required": ["to"]}, {"required": ["recipient"]}]
    schema["allOf"] = [
        {
            "if": {"properties": {"type": {"const": kind.value}}},
            "then": {"properties": {"text": _text(most)}, "required": ["text"]},
        }
        for kind, most in text_limit.items()
    ] + [
        {
            "if": {"properties": {"type": {"const": BatType.SMS.value}}},
            "then": {"required": ["text"]},
        }
    ]
    schema["description"] = (
        "One message. `to` (alias `recipient`) with or without `+`. `from` is at most "
        f"{MAX_FROM_NAME} characters for an alphanumeric SMS sender (longer: the account's "
        "numeric sender), 28 for Viber. `text` is required except for viber_otp, "
        f"viber_carousel and flashcall; an SMS may be any length up to {MAX_SMS_PARTS} "
        "parts (1005 beyond), Viber 1,000, survey 85, RCS 3,072. `ttl` is 1-"
        f"{MAX_TTL} seconds. A `customerMessageId` reused for other content is 1008; "
        "content the type's channel cannot carry is 1006. Unknown fields are ignored."
    )
    return schema


def schemas() -> dict[str, Schema]:
    """The core API's components, each name prefixed `Bat`."""
    _, answers = msgspec.json.schema_components(
        [ListOut, StatusOut, ListPageOut, ErrorBody], ref_template=f"{_REF}{PREFIX}{{name}}"
    )
    status = answers["StatusOut"]["properties"]
    status["deliverystatus"] = {"enum": [s.value for s in DeliveryStatus]}
    answers["StepOut"]["properties"]["status"] = {"enum": [s.value for s in StepStatus]}
    answers["ErrorBody"]["properties"]["code"] = {"enum": [c.value for c in Code]}
    ours: dict[str, Schema] = {
        "MessageList": _obj(
            {
                "messages": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_BATCH,
                    "items": _ref("Message"),
                }
            },
            ("messages",),
        ),
        "Message": _message(),
        "MessageData": _message_data(),
        "Fallback": _fallback(),
        "Media": _media(),
        "Button": _rcs_button(),
    }
    return {PREFIX + name: schema for name, schema in (answers | ours).items()}


def paths() -> dict[str, Any]:
    error = _ref("ErrorBody")
    meaning = {
        400: "the list's shape is wrong, or no message is valid for its shape (D6 code)",
        401: "no valid credentials",
        403: "the account is suspended",
        404: "not found (or not this account's)",
        413: "body over the size limit",
        415: "Content-Type is not application/json",
        422: "no message of the list is valid: the first one's code and field",
        429: "rate limit exceeded (the account's bucket, shared with the Cascade API), or "
        "too many failed sign-ins with a login and password (from the client's address, or "
        "for the login); see Retry-After",
        500: "server fault",
        503: "the database cannot be reached; see Retry-After",
    }

    def errors(*codes: int) -> dict[str, Any]:
        return {
            str(code): {
                "description": meaning[code],
                "content": {"application/json": {"schema": error}},
            }
            for code in codes
        }

    def ok(description: str, schema: Schema) -> Schema:
        return {"description": description, "content": {"application/json": {"schema": schema}}}

    def path_id(name: str, schema: Schema) -> Schema:
        return {"name": name, "in": "path", "required": True, "schema": schema}

    def page(name: str, most: int) -> Schema:
        number: Schema = {"type": "integer", "minimum": 1, "maximum": most}
        return {"name": name, "in": "query", "required": False, "schema": number}

    read = (401, 403, 404, 429, 500, 503)
    return {
        "/bat/messagelist": {
            "post": {
                "summary": "Core API: send a message list (1-5,000 messages)",
                "description": (
                    "Answers 200 while one message is valid: each invalid one is "
                    "`rejected` with its `error` and not stored (D4). With `?dryRun=true` "
                    "(a Cascade extension) nothing is stored or sent: `messagelistId` and "
                    "each `messageId` are null, `dryRun` is true, and each accepted "
                    "message carries the `route` it would take now (see the Cascade "
                    "API's send endpoints for its fields)."
                ),
                "security": _SECURITY,
                "parameters": [
                    {
                        "name": "dryRun",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "boolean", "default": False},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("MessageList")}},
                },
                "responses": {
                    "200": ok("one item per message, in order", _ref("ListOut")),
                    **errors(400, 401, 403, 413, 415, 422, 429, 500, 503),
                },
            }
        },
        "/bat/message/{messageId}": {
            "get": {
                "summary": "Core API: one message's delivery status",
                "security": _SECURITY,
                "parameters": [path_id("messageId", _STR)],
                "responses": {"200": ok("the message", _ref("StatusOut")), **errors(*read)},
            }
        },
        "/bat/messagelist/{messagelistId}": {
            "get": {
                "summary": "Core API: every message of a list with its status (Cascade extension)",
                "security": _SECURITY,
                "parameters": [
                    path_id("messagelistId", _STR),
                    page("page", MAX_PAGE),
                    page("per_page", MAX_PER_PAGE),
                ],
                "responses": {
                    "200": ok("a page of the list", _ref("ListPageOut")),
                    **errors(400, *read),
                },
            }
        },
    }


SECURITY_SCHEMES: dict[str, Schema] = {
    "basic": {
        "type": "http",
        "scheme": "basic",
        "description": "the account's login and password, or user `@` and an API key "
        "(core API only)",
    }
}
