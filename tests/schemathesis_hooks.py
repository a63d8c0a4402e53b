"""Test data for the conformance run (`test_openapi_conformance.py`) that a JSON Schema
cannot describe, loaded into `st run` through SCHEMATHESIS_HOOKS.

Only requests schemathesis means to be valid (its positive cases) are touched, and only
where validity depends on more than the request itself, as the document's descriptions
say:
- a tracking `id` is the client's key for one message: reused with other content it is
  `400 DUPLICATE_ID`, so each positive message gets an id of its own;
- `scheduledSent`/`scheduledTime` may be at most 30 days after now, so a positive one is
  put an hour from now;
- a callback URL's host must resolve to an allowed address, and resolving the names
  schemathesis makes up would leave this machine, so a positive one points at loopback
  (the server under test allows private callbacks).
Negative cases go out as generated.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import schemathesis
from schemathesis import GenerationMode

SEND_PATHS = (
    "/api/CascadeMessage/send_message/async",
    "/api/CascadeMessage/send_message/tg-viber/async",
)
_serial = itertools.count(1)


def _messages(body: Any) -> list[dict[str, Any]]:
    items = body.get("messages") if isinstance(body, dict) else body
    return [m for m in items if isinstance(m, dict)] if isinstance(items, list) else []


@schemathesis.hook
def before_call(ctx: Any, case: Any, **kwargs: Any) -> None:
    if case.meta is None or case.meta.generation.mode != GenerationMode.POSITIVE:
        return
    path, method = case.operation.path, case.operation.method.upper()
    if path in SEND_PATHS:
        soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        for message in _messages(case.body):
            if isinstance(message.get("id"), str):
                message["id"] = f"conformance-{next(_serial)}"
            for field in ("scheduledSent", "scheduledTime"):
                if isinstance(message.get(field), str):
                    message[field] = soon
    elif path == "/api/callbacks" and method == "POST" and isinstance(case.body, dict):
        case.body["url"] = f"http://127.0.0.1:9/hook/{next(_serial)}"
