"""The console at /console (SPEC F) in process, on SQLite and PostgreSQL: signing in
with the account's login, the session cookie and its CSRF token, each page, and bad
input — a wrong password or an unknown login (one answer, comparable time), a forged,
tampered or expired session, a POST without its token, another account's message, a
search with SQL or markup in it."""

from __future__ import annotations

import functools
import re
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

import httpx
import jwt
import pytest

from cascade.bootstrap import build_app
from cascade.clock import ManualClock
from cascade.domain.lifecycle import AttemptStatus
from cascade.domain.message import Status
from cascade.domain.prices import Price, PriceTable
from cascade.security import Passwords
from cascade.store.sql import SqlStore
from tests.conftest import TestAccount, make_account
from tests.conftest import test_settings as settings_for
from tests.test_store_console import attempt

LOGIN, PASSWORD = "acme-ops", "correct horse battery staple"
SEND = "/api/CascadeMessage/send_message/async"
PHONE = "+380501234567"


@dataclass
class Setup:
    store: SqlStore
    clock: ManualClock
    client: httpx.AsyncClient
    acme: TestAccount
    other: TestAccount

    async def send(self, account: TestAccount, tracking_id: str, phone: str = PHONE) -> str:
        response = await self.client.post(
            SEND,
            headers=account.headers,
            json=[
                {
                    "id": tracking_id,
                    "fromName": "Shop",
                    "toPhone": phone,
                    "messageType": "transaction",
                    "text": "Your order is ready",
                }
            ],
        )
        assert response.status_code == 200, response.text
        message_id: str = response.json()[0]["messageId"]
        return message_id


@functools.cache
def password_hash() -> str:
    """PASSWORD's hash with the real parameters: an unknown login is timed against them."""
    return Passwords().hash(PASSWORD)


@pytest.fixture
async def setup(store: SqlStore, clock: ManualClock, db_url: str) -> AsyncIterator[Setup]:
    """The app on each SQL backend (conftest's `store`: SQLite and PostgreSQL)."""
    acme = await make_account(store, "acme")
    other = await make_account(store, "other")
    await store.set_login(acme.id, LOGIN, password_hash())
    await store.set_login(other.id, "other-ops", password_hash())
    app = build_app(settings_for(db_url), clock=clock, store=store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cascade.test") as client:
        yield Setup(store, clock, client, acme, other)


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


async def sign_in(
    client: httpx.AsyncClient, login: str = LOGIN, password: str = PASSWORD, next: str = ""
) -> httpx.Response:
    page = await client.get("/console/sign-in", params={"next": next} if next else None)
    assert page.status_code == 200
    return await client.post(
        "/console/sign-in",
        data={"csrf": csrf_of(page.text), "login": login, "password": password, "next": next},
    )


async def signed_in(setup: Setup) -> str:
    """Sign in; the session's CSRF token (from a page)."""
    response = await sign_in(setup.client)
    assert response.status_code == 303, response.text
    page = await setup.client.get("/console/messages")
    assert page.status_code == 200
    return csrf_of(page.text)


async def delivered(
    setup: Setup,
    message_id: str,
    channel: str,
    *,
    step: int = 0,
    took_ms: int = 1,
    parts: int | None = None,
    skipped: list[list[object]] | None = None,
) -> None:
    """The message delivered by `channel` at step `step`, confirmed `took_ms` after the
    clock's now; `skipped`: the steps passed over before it."""
    now = setup.clock.now_ms()
    await attempt(
        setup.store,
        message_id,
        step,
        channel,
        AttemptStatus.DELIVERED,
        started_ms=now,
        finished_ms=now + took_ms,
        provider_id=f"{channel}-{message_id}",
        parts=parts,
        message_status=Status.DELIVERED,
        skipped=skipped,
    )


# --- signing in -----------------------------------------------------------------------------


async def test_a_page_sends_a_stranger_to_sign_in_and_back(setup: Setup) -> None:
    message_id = await setup.send(setup.acme, "order-1")
    wanted = f"/console/messages/{message_id}"
    response = await setup.client.get(wanted)
    assert response.status_code == 303
    assert (
        response.headers["location"]
        == f"/console/sign-in?next=%2Fconsole%2Fmessages%2F{message_id}"
    )

    signed = await sign_in(setup.client, next=wanted)
    assert signed.status_code == 303
    assert signed.headers["location"] == wanted
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith("cascade_console=")
    for attribute in ("HttpOnly", "SameSite=lax", "Path=/console", "Max-Age=28800"):
        assert attribute.lower() in cookie.lower(), cookie
    assert "secure" not in cookie.lower()  # the public URL is http here

    page = await setup.client.get(wanted)
    assert page.status_code == 200
    assert "order-1" in page.text
    assert "Timeline" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")


async def test_sign_in_goes_nowhere_but_the_console(setup: Setup) -> None:
    for target in (
        "https://evil.test/",
        "//evil.test/console/",
        "/console/\\evil",
        "/api/items",
        "/console/../api/items",
    ):
        response = await sign_in(setup.client, next=target)
        assert response.headers["location"] == "/console/messages", target
        await setup.client.post("/console/sign-out", data={"csrf": await _token(setup)})


async def _token(setup: Setup) -> str:
    return csrf_of((await setup.client.get("/console/messages")).text)


async def test_a_wrong_password_and_an_unknown_login_get_one_answer_in_comparable_time(
    setup: Setup,
) -> None:
    wrong = await sign_in(setup.client, password="not the password")
    unknown = await sign_in(setup.client, login="nobody-at-all")
    assert wrong.status_code == unknown.status_code == 401
    assert "Invalid login or password" in wrong.text
    assert wrong.text == unknown.text  # one answer (and one session: one token in it)
    assert "set-cookie" not in wrong.headers

    async def timed(login: str, password: str) -> float:
        page = await setup.client.get("/console/sign-in")
        form = {"csrf": csrf_of(page.text), "login": login, "password": password}
        started = time.perf_counter()
        await setup.client.post("/console/sign-in", data=form)
        return time.perf_counter() - started

    wrongs, unknowns = [], []
    for i in range(5):  # interleaved, so a busy moment of the machine falls on both
        wrongs.append(await timed(LOGIN, f"wrong {i}"))
        unknowns.append(await timed(f"nobody-{i}", f"wrong {i}"))
    ratio = statistics.median(unknowns) / statistics.median(wrongs)
    # both verify one argon2id hash of the same parameters (tens of ms); an unknown login
    # refused without one would be hundreds of times faster
    assert 1 / 3 < ratio < 3, (wrongs, unknowns)


async def test_logins_that_cannot_exist_get_the_same_answer(setup: Setup) -> None:
    wrong = await sign_in(setup.client, password="not the password")
    for login in ("nul\x00login", "tab\tlogin", "x" * 201, ""):
        refused = await sign_in(setup.client, login=login)
        assert refused.status_code == 401, login
        assert refused.text == wrong.text, login
    too_long = await sign_in(setup.client, password="p" * 5_000)
    assert too_long.text == wrong.text


async def test_a_right_password_after_wrong_ones_signs_in(setup: Setup) -> None:
    assert (await sign_in(setup.client, password="nope")).status_code == 401
    assert (await sign_in(setup.client)).status_code == 303
    page = await setup.client.get("/console/messages")
    assert page.status_code == 200
    assert LOGIN in page.text


# --- the session cookie ----------------------------------------------------------------------


async def test_a_tampered_forged_or_expired_session_is_sent_to_sign_in(setup: Setup) -> None:
    await signed_in(setup)
    good = setup.client.cookies["cascade_console"]

    async def with_cookie(value: str) -> httpx.Response:
        setup.client.cookies.set("cascade_console", value, domain="cascade.test", path="/console")
        return await setup.client.get("/console/funnel")

    header, claims, signature = good.split(".")
    other_claims = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(claims).replace(setup.acme.id.encode(), setup.other.id.encode())
    ).decode()
    forged = jwt.encode(
        {"aud": "cascade-console", "acc": setup.other.id, "login": "x", "csrf": "t", "exp": 2**40},
        "a key that is not the installation's, 32 bytes or more",
        algorithm="HS256",
    )
    unsigned = jwt.encode(
        {"aud": "cascade-console", "acc": setup.other.id, "login": "x", "csrf": "t", "exp": 2**40},
        None,
        algorithm="none",
    )
    for value in (
        f"{header}.{other_claims}.{signature}",  # another account put in the claims
        f"{header}.{claims}.{signature[:-2]}xx",  # the signature changed
        forged,
        unsigned,
        "not a token",
    ):
        response = await with_cookie(value)
        assert response.status_code == 303, value
        assert response.headers["location"].startswith("/console/sign-in")

    assert (await with_cookie(good)).status_code == 200
    setup.clock.advance(8 * 3600 - 1)
    assert (await with_cookie(good)).status_code == 200
    setup.clock.advance(1)
    expired = await with_cookie(good)
    assert expired.status_code == 303
    assert expired.headers["location"].startswith("/console/sign-in")


async def test_signing_out_ends_the_session(setup: Setup) -> None:
    token = await signed_in(setup)
    out = await setup.client.post("/console/sign-out", data={"csrf": token})
    assert out.status_code == 303
    assert out.headers["location"] == "/console/sign-in"
    assert "max-age=0" in out.headers["set-cookie"].lower()
    assert (await setup.client.get("/console/messages")).status_code == 303


# --- CSRF ------------------------------------------------------------------------------------


async def test_a_post_without_the_sessions_token_is_refused_and_changes_nothing(
    setup: Setup,
) -> None:
    token = await signed_in(setup)
    for data in ({}, {"csrf": ""}, {"csrf": token[:-1] + ("A" if token[-1] != "A" else "B")}):
        out = await setup.client.post("/console/sign-out", data=data)
        assert out.status_code == 403, data
        assert "set-cookie" not in out.headers
        assert (await setup.client.get("/console/messages")).status_code == 200  # still in

    # a sign-in whose form carries no token (a page of another site posting it)
    setup.client.cookies.clear()
    await setup.client.get("/console/sign-in")
    refused = await setup.client.post(
        "/console/sign-in", data={"login": LOGIN, "password": PASSWORD}
    )
    assert refused.status_code == 403
    assert "set-cookie" not in refused.headers
    assert (await setup.client.get("/console/messages")).status_code == 303


async def test_a_token_from_another_session_does_not_do(setup: Setup) -> None:
    mine = await signed_in(setup)
    setup.client.cookies.clear()
    await signed_in(setup)  # a new session, with a token of its own
    assert (await setup.client.post("/console/sign-out", data={"csrf": mine})).status_code == 403


# --- messages --------------------------------------------------------------------------------


async def test_search_finds_by_each_filter_and_pages(setup: Setup) -> None:
    first = await setup.send(setup.acme, "order-1", "+380501111111")
    setup.clock.advance(60)
    second = await setup.send(setup.acme, "order-2", "+380672222222")
    await setup.send(setup.other, "order-1", "+380501111111")  # another account's
    await signed_in(setup)

    async def found(**params: str) -> list[str]:
        page = await setup.client.get("/console/messages", params=params)
        assert page.status_code == 200
        return re.findall(r'href="/console/messages/([0-9a-f-]{36})"', page.text)

    assert await found() == [second, first]
    assert await found(phone="+380 50") == [first]
    assert await found(tracking_id="order-2") == [second]
    assert await found(status="scheduled") == [second, first]
    assert await found(status="delivered") == []
    assert await found(since="2026-01-01T00:00:30") == [second]  # the clock's start + 30 s
    assert await found(until="2026-01-01T00:00:30") == [first]


async def test_search_pages(setup: Setup) -> None:
    for i in range(27):
        await setup.send(setup.acme, f"bulk-{i:02}")
        setup.clock.advance(1)
    await signed_in(setup)
    first = await setup.client.get("/console/messages")
    assert "27 messages, page 1 of 2" in first.text
    assert "bulk-26" in first.text
    assert "bulk-01" not in first.text
    older = re.search(r'rel="next" href="([^"]+)"', first.text)
    assert older
    second = await setup.client.get(older.group(1).replace("&amp;", "&"))
    assert "page 2 of 2" in second.text
    assert "bulk-01" in second.text
    assert "bulk-26" not in second.text
    assert 'rel="next"' not in second.text


@pytest.mark.parametrize(
    "typed",
    [
        "' OR '1'='1' --",
        "x'); DROP TABLE messages; --",
        '<script>alert("x")</script>',
        '"><img src=x onerror=alert(1)>',
        "%_%",
        "nul \x00 in it",
    ],
)
async def test_a_search_with_sql_or_markup_is_shown_inertly(setup: Setup, typed: str) -> None:
    await setup.send(setup.acme, "order-1")
    await signed_in(setup)
    for field in ("tracking_id", "phone", "since", "status"):
        page = await setup.client.get("/console/messages", params={field: typed})
        assert page.status_code == 200, (field, page.text)
        assert "0 messages" in page.text
        if _escaped(typed) != typed:
            assert typed not in page.text  # never as markup …
        assert "<script>alert" not in page.text
        assert "<img src=x" not in page.text
    shown = await setup.client.get("/console/messages", params={"tracking_id": typed})
    assert f"<q>{_escaped(typed)}</q>" in shown.text  # … but as the text typed
    # and the table is still there
    assert "order-1" in (await setup.client.get("/console/messages")).text


async def test_times_at_the_ends_of_the_calendar_are_times(setup: Setup) -> None:
    await setup.send(setup.acme, "order-1")
    await signed_in(setup)
    for params in (
        {"since": "0001-01-01T00:00:00+01:00"},
        {"until": "9999-12-31T23:59:59-01:00"},
        {"since": "0001-01-01T00:00"},
    ):
        page = await setup.client.get("/console/messages", params=params)
        assert page.status_code == 200, params
        assert "1 message" in page.text, params


def _escaped(text: str) -> str:
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&#34;")
        .replace("'", "&#39;")
    )


async def test_another_accounts_message_is_not_found(setup: Setup) -> None:
    theirs = await setup.send(setup.other, "their-order")
    mine = await setup.send(setup.acme, "my-order")
    await signed_in(setup)
    assert (await setup.client.get(f"/console/messages/{mine}")).status_code == 200
    for message_id in (theirs, "no-such-id", "x%00y", "%27%20OR%201%3D1"):
        page = await setup.client.get(f"/console/messages/{message_id}")
        assert page.status_code == 404, message_id
        assert "No such message" in page.text
        assert "their-order" not in page.text


async def test_a_timeline_shows_steps_tried_and_skipped(setup: Setup) -> None:
    message_id = await setup.send(setup.acme, "order-7")
    now = setup.clock.now_ms()
    skipped: list[list[object]] = [[0, "telegram", "skipped", "NO_CHAT", None, now]]
    await delivered(setup, message_id, "sms", step=4, took_ms=2_000, parts=1, skipped=skipped)
    await signed_in(setup)
    page = (await setup.client.get(f"/console/messages/{message_id}")).text
    assert "step 0 telegram passed over: NO_CHAT" in page
    assert "step 4 sms: delivered" in page
    assert f"sms-{message_id}" in page  # the provider's id
    assert 'id="message-status">delivered' in page


# --- figures ---------------------------------------------------------------------------------


async def figures(setup: Setup) -> None:
    """Three messages: one delivered by Telegram, one by SMS after Viber failed, one
    waiting; the other account has one delivered too."""
    now = setup.clock.now_ms()
    by_telegram = await setup.send(setup.acme, "a")
    by_sms = await setup.send(setup.acme, "b")
    await setup.send(setup.acme, "c")
    theirs = await setup.send(setup.other, "a")
    for message_id in (by_telegram, theirs):
        await delivered(setup, message_id, "telegram", took_ms=2_000)
    await attempt(setup.store, by_sms, 1, "viber_bot", AttemptStatus.FAILED, started_ms=now)
    skipped: list[list[object]] = [[0, "telegram", "skipped", "NO_CHAT", None, now]]
    await delivered(setup, by_sms, "sms", step=4, took_ms=8_000, parts=1, skipped=skipped)
    setup.clock.advance(60)


async def test_the_funnel_counts_the_accounts_steps_by_channel(setup: Setup) -> None:
    await figures(setup)
    await signed_in(setup)
    page = (await setup.client.get("/console/funnel", params={"period": "1h"})).text
    rows = dict(re.findall(r'<tr data-channel="(\w+)">(.*?)</tr>', page, re.S))
    assert list(rows) == ["telegram", "viber_bot", "sms"]  # as routes try them

    def cells(channel: str) -> list[str]:
        return re.findall(r'<td class="n[^"]*">(\d+)</td>', rows[channel])

    # delivered, sent, failed, skipped, pending, steps
    assert cells("telegram") == ["1", "0", "0", "1", "0", "2"]
    assert cells("viber_bot") == ["0", "0", "1", "0", "0", "1"]
    assert cells("sms") == ["1", "0", "0", "0", "0", "1"]
    assert "<rect" in rows["telegram"]
    bad = await setup.client.get("/console/funnel", params={"period": "<b>"})
    assert bad.status_code == 200
    assert "Period: one of" in bad.text
    assert "<b>" not in bad.text


async def test_spend_against_all_sms_from_the_price_table(setup: Setup) -> None:
    await figures(setup)
    await signed_in(setup)
    counts = (await setup.client.get("/console/spend")).text
    assert "No price table is loaded" in counts
    assert re.search(r'id="billed">2<', counts)

    await setup.store.load_prices(
        PriceTable(
            [
                Price("telegram", "380", Decimal("0.002"), "EUR"),
                Price("sms", "380", Decimal("0.031"), "EUR"),
            ]
        )
    )
    setup.clock.advance(2)  # the price book looks again after a second
    page = (await setup.client.get("/console/spend")).text
    assert 'id="paid">0.033 EUR<' in page  # Telegram 0.002 + SMS 0.031
    assert 'id="all-sms">0.062 EUR<' in page  # two SMS
    assert 'id="avoided">0.029 EUR<' in page
    assert "2 of 2 billed messages priced" in page


async def test_throughput_and_latency_charts_render_as_svg(setup: Setup) -> None:
    await figures(setup)
    await signed_in(setup)
    page = (await setup.client.get("/console/activity", params={"period": "1h"})).text
    assert "4 accepted" not in page  # the other account's is not counted
    assert "3 accepted, 2 confirmed delivered; buckets of 1.0 min" in page
    assert page.count("<svg") == 2
    assert "<script" not in page
    # both confirmed in one minute: the latency is one dot per series, not a line
    assert page.count('<circle class="dot series-') == 2
    assert 'class="series-1"' in page  # a delivered bar


async def test_chats_by_status_and_first_response(setup: Setup) -> None:
    await signed_in(setup)
    page = await setup.client.get("/console/chats")
    assert page.status_code == 200
    assert re.search(r'id="open-chats">0<', page.text)
    assert 'id="first-response">—<' in page.text
    assert "On Pause" in page.text


async def test_the_stylesheet_is_served_by_cascade(setup: Setup) -> None:
    css = await setup.client.get("/console/static/console.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert "--delivered" in css.text


# --- cancel (SPEC A9, through the one command) ------------------------------------------------


async def status_of(setup: Setup, account: TestAccount, message_id: str) -> str:
    response = await setup.client.get(
        f"/api/CascadeMessage/status/{message_id}", headers=account.headers
    )
    assert response.status_code == 200
    status: str = response.json()["status"]
    return status


async def test_cancel_a_scheduled_message_from_its_page(setup: Setup) -> None:
    message_id = await setup.send(setup.acme, "later")
    await signed_in(setup)
    page = (await setup.client.get(f"/console/messages/{message_id}")).text
    assert 'class="cancel"' in page
    done = await setup.client.post(
        f"/console/messages/{message_id}/cancel", data={"csrf": csrf_of(page)}
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/console/messages/{message_id}?cancel=cancelled"
    assert await status_of(setup, setup.acme, message_id) == "cancelled"
    shown = (await setup.client.get(done.headers["location"])).text
    assert "Cancelled: no step of it will be sent." in shown
    assert 'class="cancel"' not in shown  # final now: no button
    # a second try changes nothing
    again = await setup.client.post(
        f"/console/messages/{message_id}/cancel", data={"csrf": csrf_of(shown)}
    )
    assert again.headers["location"].endswith("?cancel=cancelled")
    assert await status_of(setup, setup.acme, message_id) == "cancelled"


async def test_a_final_message_has_no_cancel_and_its_answer_says_why(setup: Setup) -> None:
    message_id = await setup.send(setup.acme, "done")
    await delivered(setup, message_id, "telegram")
    token = await signed_in(setup)
    page = (await setup.client.get(f"/console/messages/{message_id}")).text
    assert 'class="cancel"' not in page
    done = await setup.client.post(f"/console/messages/{message_id}/cancel", data={"csrf": token})
    assert done.headers["location"].endswith("?cancel=delivered")
    shown = (await setup.client.get(done.headers["location"])).text
    assert "Nothing to cancel: it is delivered already." in shown
    assert await status_of(setup, setup.acme, message_id) == "delivered"


async def test_a_cancel_without_the_token_or_for_another_account_does_nothing(
    setup: Setup,
) -> None:
    mine = await setup.send(setup.acme, "mine")
    theirs = await setup.send(setup.other, "theirs")
    token = await signed_in(setup)
    for data in ({}, {"csrf": "forged"}):
        refused = await setup.client.post(f"/console/messages/{mine}/cancel", data=data)
        assert refused.status_code == 403
    assert await status_of(setup, setup.acme, mine) == "scheduled"

    other = await setup.client.post(f"/console/messages/{theirs}/cancel", data={"csrf": token})
    assert other.status_code == 404
    assert await status_of(setup, setup.other, theirs) == "scheduled"

    setup.client.cookies.clear()  # signed out: a cancel is refused too
    assert (
        await setup.client.post(f"/console/messages/{mine}/cancel", data={"csrf": token})
    ).status_code == 403
    assert await status_of(setup, setup.acme, mine) == "scheduled"


async def test_only_the_consoles_own_cancel_answers_are_shown(setup: Setup) -> None:
    message_id = await setup.send(setup.acme, "x")
    await signed_in(setup)
    page = await setup.client.get(
        f"/console/messages/{message_id}", params={"cancel": "Call +1 555 0100 now"}
    )
    assert page.status_code == 200
    assert "Call +1 555" not in page.text


async def test_a_suspended_account_cannot_sign_in_and_is_signed_out(setup: Setup) -> None:
    await signed_in(setup)
    assert await setup.store.set_suspended(setup.acme.id, True)
    page = await setup.client.get("/console/messages")
    assert page.status_code == 303  # its session ends at the next page
    refused = await sign_in(setup.client)
    assert refused.status_code == 401
    assert "The account is suspended" in refused.text
    assert "set-cookie" not in refused.headers
    assert await setup.store.set_suspended(setup.acme.id, False)
    assert (await sign_in(setup.client)).status_code == 303
