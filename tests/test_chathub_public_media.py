"""An operator's upload at its public URL (`/api/chat/media/public/{token}/{name}`, which
Viber fetches with no credentials): each client address has its own bucket
(CASCADE_PUBLIC_MEDIA_RATE / _BURST); over it, 429 with Retry-After and the problem
body, for a guessed token as for a real one; a well-behaved fetcher gets the bytes."""

from __future__ import annotations

import httpx

from cascade.bootstrap import build_app
from cascade.clock import ManualClock
from cascade.store.sql import SqlStore
from tests.chat_seed import PNG, chat_with_upload
from tests.chathub_company import assert_problem, company
from tests.conftest import test_settings as app_settings


async def public_path(store: SqlStore) -> str:
    """The public path of an operator's upload in a new chat."""
    acme = await company(store, "acme")
    seeded = await chat_with_upload(store, acme.account.id, acme.org.id, "7000000001:test")
    return seeded.public_path


def client_at(app: object, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://cascade.test")


async def test_each_address_is_held_to_its_rate(
    store: SqlStore, clock: ManualClock, db_url: str
) -> None:
    path = await public_path(store)
    settings = app_settings(db_url, public_media_rate=1.0, public_media_burst=2)
    app = build_app(settings, clock=clock, store=store)
    async with client_at(app, "203.0.113.7") as viber, client_at(app, "198.51.100.9") as other:
        for _ in range(2):  # the burst
            fetched = await viber.get(path)
            assert fetched.status_code == 200, fetched.text
            assert fetched.content == PNG
        # a guessed token draws from the same bucket, so guessing is as slow
        refused = await viber.get("/api/chat/media/public/guessed/a.png")
        detail = assert_problem(refused, 429)
        assert "Rate limit" in detail
        assert refused.headers["retry-after"] == "1"
        assert_problem(await viber.get(path), 429)
        # another address is not held back by this one
        assert (await other.get(path)).content == PNG
        clock.advance(1.0)  # what Retry-After said
        again = await viber.get(path)
        assert again.status_code == 200, again.text
        assert again.content == PNG
        assert_problem(await viber.get("/api/chat/media/public/guessed/a.png"), 429)
        clock.advance(1.0)
        assert_problem(await viber.get("/api/chat/media/public/guessed/a.png"), 404)


async def test_a_fetcher_within_the_default_rate_is_never_refused(
    store: SqlStore, clock: ManualClock, db_url: str
) -> None:
    path = await public_path(store)
    settings = app_settings(db_url)
    app = build_app(settings, clock=clock, store=store)
    async with client_at(app, "203.0.113.7") as viber:
        # one fetch a second, for longer than the burst lasts
        for _ in range(settings.public_media_burst * 2):
            fetched = await viber.get(path)
            assert fetched.status_code == 200, fetched.text
            assert fetched.headers["cache-control"] == "public, max-age=3600"
            clock.advance(1.0 / settings.public_media_rate)
