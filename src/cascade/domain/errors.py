"""The one error a client's mistake becomes: a code, a sentence, and where it is."""

from __future__ import annotations


class RequestRejected(Exception):
    """A request broke a rule of the contract; the whole request is refused (HTTP 400)."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def at(self, prefix: str) -> RequestRejected:
        """The same rejection with the item's position put in front of the field name."""
        field = f"{prefix}.{self.field}" if self.field else prefix
        return RequestRejected(self.code, self.message, field)
