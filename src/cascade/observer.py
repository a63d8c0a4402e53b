"""The seam through which the API, the engine and the store report what they count.

Each counting floor takes an `Observer` and calls it where something happens (a message
accepted, a send's outcome, a report closing a step…); the composition root hands them
the Prometheus one (`cascade.metrics.Metrics`), tests a recorder or `NO_OBSERVER`. So no
floor but `cascade.metrics` imports prometheus-client, and `domain/` stays pure: it is
never told about observers at all. Every method must be cheap and must not raise: they
run on the hot paths.
"""

from __future__ import annotations

from typing import Protocol


class Observer(Protocol):
    def accepted(self, account_id: str, count: int) -> None:
        """`count` new messages of this account were committed at intake (repeats of a
        request, answered with their original ids, are not new)."""

    def rate_limited(self, account_id: str, kind: str) -> None:
        """A request of this account was refused with 429; `kind` is the bucket ("send",
        "status")."""

    def attempt(self, channel: str, outcome: str) -> None:
        """A send on `channel` came to `outcome` (delivered, sent, unreachable, failed,
        retry, in_doubt, throttled, misconfigured)."""

    def throttled(self, channel: str) -> None:
        """The provider asked a sender on `channel` to slow down: it is paused."""

    def step_reported(self, channel: str, outcome: str, seconds: float) -> None:
        """A delivery report ended a step on `channel` as `outcome` (delivered, read,
        failed, unreachable), `seconds` after the step's send began."""

    def webhook_delivery(self, delivered: bool) -> None:
        """A status-webhook POST was acknowledged (2xx) or failed (to be retried)."""

    def http_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """An HTTP request to `route` (the route's template, never the raw path) was
        answered with `status` after `seconds`."""


class _Nothing:
    """Counts nothing: the default where no observer was given."""

    def accepted(self, account_id: str, count: int) -> None:
        pass

    def rate_limited(self, account_id: str, kind: str) -> None:
        pass

    def attempt(self, channel: str, outcome: str) -> None:
        pass

    def throttled(self, channel: str) -> None:
        pass

    def step_reported(self, channel: str, outcome: str, seconds: float) -> None:
        pass

    def webhook_delivery(self, delivered: bool) -> None:
        pass

    def http_request(self, method: str, route: str, status: int, seconds: float) -> None:
        pass


NO_OBSERVER: Observer = _Nothing()


class Exposition(Protocol):
    """What `GET /metrics` answers with: every series this process (or, with several API
    processes, all of them) counted, in a text format for scrapers."""

    content_type: str

    async def render(self) -> bytes: ...
