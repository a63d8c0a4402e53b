"""What the hub needs from the application: who a caller is, who may see an event.

The chat code (SPEC E1/E2) decides both: it builds the `Authenticate` callable that turns
a bearer token into a principal, and each principal answers whether it may see an event
sent to an `Audience`. The hub only routes: it never reads a token or a chat itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Audience:
    """Who an event is for: an account's organization (its company tokens and that
    organization's operators), or one operator of the account; but never the connection
    `except_connection` (the one whose invocation made the event, which has its answer).

    A value that crosses processes (the fan-out bus carries it), so plain strings only.
    """

    account_id: str
    organization_id: str | None = None
    operator_id: str | None = None
    except_connection: str | None = None


@dataclass(frozen=True, slots=True)
class Dismissal:
    """Connections to close, in every process: those of `account_id` whose principal is
    `dismissed_by` this (the chat code decides; the hub closes). `operator_id` None: every
    connection of the account; else that operator's, but for those that already hold
    `organization_id` when one is named (an operator moved there, reconnected).

    Each is closed with a Close message carrying `error`, and `allowReconnect` when
    `allow_reconnect`. Crosses processes like `Audience`: plain values only.
    """

    account_id: str
    error: str
    allow_reconnect: bool = False
    operator_id: str | None = None
    organization_id: str | None = None


class HubPrincipal(Protocol):
    """An authenticated caller as the hub sees it."""

    @property
    def id(self) -> str:
        """Stable for the token's subject (an operator, a company): logs and tests."""

    @property
    def account_id(self) -> str:
        """The account it acts for: events are offered only to its account's connections."""

    @property
    def expires_at_ms(self) -> int | None:
        """When its credential expires (epoch ms); its connections are closed then. None
        for a credential that does not expire (an API key)."""

    def sees(self, audience: Audience) -> bool:
        """Whether an event for `audience` may reach this caller."""

    def dismissed_by(self, dismissal: Dismissal) -> bool:
        """Whether this caller's connections are to close on `dismissal`."""


Authenticate = Callable[[str], Awaitable[HubPrincipal | None]]
"""A bearer token → its principal, or None when it is unknown, tampered with or expired."""


class HubError(Exception):
    """Raised by an invocation handler: the caller's Completion carries this text as its
    error (any other exception becomes a generic error, its details only in the log)."""
