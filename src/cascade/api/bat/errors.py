"""The core API's errors (SPEC D6): the body, its codes, and the two ways a fault is
answered — a whole request refused (`BatError`), or one message rejected (`Rejected`)."""

from __future__ import annotations

from enum import IntEnum
from http import HTTPStatus

import msgspec

from cascade.api.bat.wire import ErrorBody


class Code(IntEnum):
    INVALID_FORMAT = 1001  # malformed JSON, a field of the wrong type, a bad value
    MISSING_FIELD = 1002
    INVALID_PHONE = 1003
    UNKNOWN_TYPE = 1004
    TEXT_TOO_LONG = 1005
    INVALID_CONTENT = 1006  # content the channel cannot carry, or invalid messageData
    INVALID_FALLBACK = 1007
    DUPLICATE_ID = 1008  # a customerMessageId reused for other content
    TOO_MANY_MESSAGES = 1009
    INVALID_SCHEDULE = 1010  # invalid schedule or TTL


# The 429 body, exactly as the provider documents it (D6): no code, no field.
RATE_LIMITED_MESSAGE = "Rate limit exceeded. Please wait before sending more requests."


class BatError(Exception):
    """The whole request is refused with the D6 body."""

    def __init__(
        self,
        status: int,
        message: str,
        code: Code | None = None,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.field = field
        self.headers = headers or {}


class Rejected(Exception):
    """One message broke a rule (`shape` False: answered 422 when no message is left) or
    is malformed (`shape` True: 400)."""

    def __init__(self, code: Code, message: str, field: str | None, *, shape: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.shape = shape

    def at(self, prefix: str) -> Rejected:
        """The same rejection with the message's position put in front of the field."""
        field = f"{prefix}.{self.field}" if self.field else prefix
        return Rejected(self.code, self.message, field, shape=self.shape)

    def refusal(self) -> BatError:
        """The whole request refused for this (no message of it could be accepted)."""
        return BatError(400 if self.shape else 422, self.message, self.code, self.field)


def error_body(err: BatError) -> bytes:
    return msgspec.json.encode(
        ErrorBody(err.status, _phrase(err.status), err.message, err.code, err.field)
    )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
