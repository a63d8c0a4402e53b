"""Test data for the ChatHub conformance run (`test_chathub_openapi.py`) that the schema
cannot describe, loaded into `st run` through SCHEMATHESIS_HOOKS. Only positive cases of
`GET /api/chat/chats` are touched, where the document's descriptions set a rule across
parameters:
- two `date`s are a range, the first not after the second: a reversed pair is put in order;
- `tg_user_id` names a Telegram chat, so `source`, when given with it, is 2.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import schemathesis
from schemathesis import GenerationMode


def _instant(raw: str, *, end: bool) -> datetime:
    text = raw.strip()
    if len(text) == 10:
        day = date.fromisoformat(text)
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return start + timedelta(days=1) - timedelta(milliseconds=1) if end else start
    at = datetime.fromisoformat(text)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


@schemathesis.hook
def before_call(ctx: Any, case: Any, **kwargs: Any) -> None:
    if case.meta is None or case.meta.generation.mode != GenerationMode.POSITIVE:
        return
    if case.operation.path != "/api/chat/chats" or not isinstance(case.query, dict):
        return
    dates = case.query.get("date")
    if isinstance(dates, list) and len(dates) == 2:
        try:
            reversed_ = _instant(dates[0], end=False) > _instant(dates[1], end=True)
        except ValueError:
            reversed_ = False  # not a date: the server's 400 is the finding
        if reversed_:
            case.query["date"] = [dates[1], dates[0]]
    if case.query.get("tg_user_id") is not None and case.query.get("source") is not None:
        case.query["source"] = 2
