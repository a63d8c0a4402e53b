"""The machine-readable contract (`/openapi.json`) and its browsable page (`/docs`).

The schemas come from the wire Structs themselves, so the document cannot drift from
what the server decodes. The page is self-contained HTML: no scripts from elsewhere.
"""

from __future__ import annotations

import html
from typing import Any

import msgspec

from cascade import __version__
from cascade.api.wire import Accepted, Envelope, ErrorBody, ItemsIn, MessageIn, StatusOut

_REF = "#/components/schemas/"


def openapi_document() -> dict[str, Any]:
    (send_array, envelope, error, accepted, items, status), components = (
        msgspec.json.schema_components(
            [list[MessageIn], Envelope, ErrorBody, list[Accepted], ItemsIn, StatusOut],
            ref_template=_REF + "{name}",
        )
    )
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
        }
        return {
            str(code): {
                "description": meaning[code],
                "content": {"application/json": {"schema": error}},
            }
            for code in codes
        }

    send_op = {
        "security": security,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"oneOf": [send_array, envelope]}}},
        },
        "responses": {
            "200": {
                "description": "accepted and committed; one item per message, in order",
                "content": {"application/json": {"schema": accepted}},
            },
            **errors(400, 401, 413, 415, 429, 500),
        },
    }
    status_ok = {
        "200": {"description": "the message", "content": {"application/json": {"schema": status}}},
        **errors(401, 404, 429, 500),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Cascade API",
            "version": __version__,
            "description": "Multi-channel cascade messaging, wire-compatible with the "
            "SMSBAT Cascade API.",
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
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": items}},
                    },
                    "responses": {
                        "200": {"description": "stored"},
                        **errors(400, 401, 413, 415, 429, 500),
                    },
                }
            },
            "/api/CascadeMessage/status/{messageId}": {
                "get": {
                    "summary": "Delivery status of one message",
                    "security": security,
                    "parameters": [
                        {
                            "name": "messageId",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "format": "uuid"},
                        }
                    ],
                    "responses": status_ok,
                }
            },
            "/api/CascadeMessage/status": {
                "get": {
                    "summary": "Delivery status by the client's tracking id",
                    "security": security,
                    "parameters": [
                        {
                            "name": "trackingId",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": status_ok,
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
                    "responses": {"302": {"description": "redirect to the target"}, **errors(404)},
                }
            },
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
        },
        "components": {
            "schemas": components,
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-Authorization-Key"},
                "viberToken": {"type": "apiKey", "in": "header", "name": "X-Viber-Auth-Token"},
                "telegramKey": {"type": "apiKey", "in": "header", "name": "X-Tg-Bot-Key"},
            },
        },
    }


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
