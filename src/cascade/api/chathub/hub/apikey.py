"""An account's API key as a hub credential (SPEC E1: `X-Authorization-Key` with an API key
is accepted wherever a company token is): the key, sent as the bearer token, makes a
company principal that sees every event of its account and never expires.

Company and operator JWTs (SPEC E1) are the chat code's; its `authenticate` tries them and
falls back to this one.
"""

from __future__ import annotations

from dataclasses import dataclass

from cascade.api.auth import Authenticator, Unauthorized
from cascade.api.chathub.hub.types import Audience, Authenticate, HubPrincipal


@dataclass(frozen=True, slots=True)
class AccountPrincipal:
    """A company-level caller: all of its account's chats."""

    account_id: str
    expires_at_ms: int | None = None

    @property
    def id(self) -> str:
        return f"account:{self.account_id}"

    def sees(self, audience: Audience) -> bool:
        return audience.account_id == self.account_id


def api_key_authenticate(authenticator: Authenticator) -> Authenticate:
    async def authenticate(token: str) -> HubPrincipal | None:
        try:
            principal = await authenticator.authenticate({"x-authorization-key": token})
        except Unauthorized:
            return None
        return AccountPrincipal(principal.account.id)

    return authenticate
