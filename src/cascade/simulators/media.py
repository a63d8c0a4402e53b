"""Fetching the media a message names, as the real services do before they take it.

Viber fetches a business message's image, video, thumbnail and file from the URL given
(a video's host must answer `Content-Length`), and RBM fetches a rich card's media and
thumbnail; a URL that does not answer 200 fails the message. The simulators do the same
with their own aiohttp session (never the product's HTTP client): `MediaFetcher.check`
answers what was found (`Fetched`) or why the URL is refused (`MediaRefused`).

Tests serve the media from a local fixture server on loopback, never from the internet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import aiohttp

TIMEOUT_S: Final = 5.0
MAX_URL: Final = 2048


@dataclass(frozen=True, slots=True)
class Fetched:
    """What the media's host answered: its type (`image/jpeg`) and length, if given."""

    content_type: str
    length: int | None


@dataclass(frozen=True, slots=True)
class MediaRefused:
    """Why the media at a URL cannot be used, in the provider's words (for its error)."""

    reason: str


def is_http_url(url: object) -> bool:
    return (
        isinstance(url, str)
        and url.startswith(("http://", "https://"))
        and "://" in url
        and len(url.split("://", 1)[1]) > 0
        and len(url) <= MAX_URL
    )


@dataclass
class MediaFetcher:
    """Looks media up by URL; one session per simulator app, opened on first use."""

    _session: aiohttp.ClientSession | None = field(default=None, init=False)
    seen: dict[str, Fetched] = field(default_factory=dict, init=False)  # url -> last answer

    async def check(self, url: str) -> Fetched | MediaRefused:
        """GET `url`: 200 with a type is media; anything else is refused."""
        found = await self.fetch(url)
        return found if isinstance(found, MediaRefused) else found[0]

    async def fetch(self, url: str) -> tuple[Fetched, bytes] | MediaRefused:
        """As `check`, keeping the bytes (what a person's phone shows them)."""
        if not is_http_url(url):
            return MediaRefused("the media URL is not an http(s) URL")
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=TIMEOUT_S, sock_connect=TIMEOUT_S)
            )
        try:
            async with self._session.get(url, allow_redirects=True) as response:
                if response.status != 200:
                    return MediaRefused(f"the media URL answered HTTP {response.status}")
                length = response.headers.get("Content-Length")
                data = await response.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            return MediaRefused(f"the media URL cannot be fetched ({type(error).__name__})")
        kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        fetched = Fetched(kind, int(length) if length and length.isdigit() else None)
        self.seen[url] = fetched
        return fetched, data

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
