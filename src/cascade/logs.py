"""Log lines: plain text, or one JSON object a line (`CASCADE_LOG_FORMAT=json`), each
line about a message carrying its `message_id` and `account`.

A line is about a message when it is logged while one is being handled — inside
`about_message(...)`, which the worker enters for each send and the intake for each
request — or when its call passes `extra={"message_id": …, "account": …}` itself. The
context lives in a ContextVar, so it follows a send's task and nothing else.

Secrets are never passed to a log call: the store's engines hide SQL parameters, the
Telegram client redacts its URLs, and tests/test_logs_no_secrets.py greps a whole
gateway's debug output for every secret it was given.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TextIO

import msgspec

from cascade.domain.surfaces import iso

FORMATS = ("text", "json")
CONTEXT_FIELDS = ("message_id", "account")

_context: ContextVar[dict[str, str] | None] = ContextVar("cascade_log_context", default=None)


@contextmanager
def about_message(message_id: str | None = None, account: str | None = None) -> Iterator[None]:
    """Lines logged within carry this message's id and account (where given)."""
    fields = {k: v for k, v in (("message_id", message_id), ("account", account)) if v}
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


class ContextFilter(logging.Filter):
    """Gives a record the message context it was logged in (what its call's `extra`
    named wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in (_context.get() or {}).items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


# a LogRecord's own attributes: anything else on a record came from a call's `extra`
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (ISO 8601, UTC, ms), level, logger, message, the
    message context and any other `extra`, and the exception, if any, as text."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": iso(int(record.created * 1000)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(_extras(record))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return msgspec.json.encode(line, enc_hook=str).decode()


class TextFormatter(logging.Formatter):
    """`time level logger message`, and the message context at the end as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        context = " ".join(
            f"{name}={getattr(record, name)}" for name in CONTEXT_FIELDS if hasattr(record, name)
        )
        if not context:
            return text
        first, newline, rest = text.partition("\n")  # after the message, before a traceback
        return f"{first} [{context}]{newline}{rest}"


def configure(level: str, fmt: str, stream: TextIO | None = None) -> logging.Handler:
    """Send every logger's lines, from `level` up, to `stream` (stderr) in `fmt`; returns
    the handler (it replaces the root logger's handlers)."""
    if fmt not in FORMATS:
        raise ValueError(f"the log format is {' or '.join(FORMATS)}, not {fmt!r}")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler


# Libraries whose lines below WARNING carry secrets: httpx logs every request URL at INFO
# (Telegram's carry the bot token); SQLAlchemy (when its logger is enabled, as a DEBUG
# root does) and aiosqlite (at DEBUG) log every statement with its parameters (bot
# tokens, webhook secrets, password hashes, people's texts).
_QUIET = ("httpx", "sqlalchemy", "aiosqlite")
