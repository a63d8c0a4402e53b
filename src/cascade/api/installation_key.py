"""A signing key of the installation's: the one configured, else one generated once and
kept in the database (`installation_secrets`), so every API process signs and checks
with the same key. ChatHub's JWTs and the console's sessions each have their own."""

from __future__ import annotations

import asyncio
import secrets

from cascade.store.protocols import ChatStore


class InstallationKey:
    def __init__(self, store: ChatStore, row: str, configured: str | None) -> None:
        self._store = store
        self._row = row
        self._key: bytes | None = configured.encode() if configured else None
        self._loading = asyncio.Lock()

    async def get(self) -> bytes:
        """The key; the first call without one configured reads (or stores) it."""
        if self._key is None:
            async with self._loading:
                if self._key is None:
                    stored = await self._store.installation_secret(
                        self._row, secrets.token_urlsafe(48)
                    )
                    self._key = stored.encode()
        return self._key
