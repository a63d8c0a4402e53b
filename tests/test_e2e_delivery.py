"""End-to-end delivery over real loopback sockets, with real processes (SPEC B, C).

Every test drives a running installation (tests/e2e_stack.py): the Telegram and Viber
simulators, `cascade api` and `cascade worker` as separate processes, a database migrated
by `cascade migrate`, an account, bots and webhooks set up by the CLI. Recipients meet the
bots the way people do (the simulated user starts the Telegram bot and shares the contact,
subscribes to the Viber bot), messages go in through the public API, and what happened
is read back from the status endpoint and counted at the simulators.

Most tests share one installation (module scope, each with its own phone numbers); the
crash and the PostgreSQL tests build their own.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cascade.simulators.telegram import chat_id_for
from cascade.simulators.viber import sign as viber_sign
from tests.e2e_stack import FINAL, VIBER_TOKEN, Stack, build_stack

pytestmark = pytest.mark.live

# Short windows keep the tests fast: the Viber bot window is 5 s, longer than the TTL of
# the expiry test (3 s), so that message expires while its Viber step is still waiting.
WINDOW_S = 5


def when(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def texts(received: list[dict[str, Any]]) -> list[str]:
    return [r["text"] for r in received]


def unique_text(label: str) -> str:
    return f"{label} {uuid.uuid4().hex[:12]}"


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """Build installations of a test's own (see `build_stack`); all stopped at teardown."""
    built: list[Stack] = []

    def make(**options: Any) -> Stack:
        running = build_stack(tmp_path / f"stack-{len(built) + 1}", **options)
        built.append(running)
        return running

    try:
        yield make
    finally:
        for running in built:
            running.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Simulators, API and one worker on SQLite, shared by this module's simple tests."""
    running = build_stack(
        tmp_path_factory.mktemp("e2e"), settings={"VIBER_BOT_WINDOW_S": str(WINDOW_S)}
    )
    try:
        yield running
    finally:
        running.close()


# --- the cascade's paths -------------------------------------------------------------------


def test_a_telegram_reachable_phone_gets_the_message_on_telegram(stack: Stack) -> None:
    phone = "+380501000016"
    stack.onboard_telegram(phone)
    text = unique_text("telegram path")

    shown = stack.wait_final(stack.send_one(phone, text))

    assert shown["status"] == "delivered", shown
    assert shown["channel"] == "telegram"
    [attempt] = shown["attempts"]
    assert attempt["channel"] == "telegram"
    assert attempt["status"] == "delivered"
    assert attempt["providerMessageId"]
    got = [r for r in stack.tg_received() if r["text"] == text]
    assert len(got) == 1
    assert got[0]["chat_id"] == chat_id_for(phone)
    assert stack.vb_received(phone) == []


def test_no_known_chat_goes_to_viber(stack: Stack) -> None:
    phone = "+380501000026"
    stack.onboard_viber(phone)  # never met the Telegram bot
    text = unique_text("no chat")

    shown = stack.wait_final(stack.send_one(phone, text))

    assert shown["status"] == "delivered", shown
    assert shown["channel"] == "viber_bot"
    telegram, viber = shown["attempts"]
    assert (telegram["channel"], telegram["status"], telegram["reason"]) == (
        "telegram",
        "unreachable",
        "NO_CHAT",
    )
    assert (viber["channel"], viber["status"]) == ("viber_bot", "delivered")
    assert texts(stack.vb_received(phone)) == [text]
    assert text not in texts(stack.tg_received())


def test_a_blocked_bot_goes_to_viber(stack: Stack) -> None:
    phone = "+380501000036"
    stack.onboard_telegram(phone)
    stack.tg_user(phone, "block")
    stack.onboard_viber(phone)
    text = unique_text("blocked")

    shown = stack.wait_final(stack.send_one(phone, text))

    assert shown["status"] == "delivered", shown
    assert shown["channel"] == "viber_bot"
    telegram, viber = shown["attempts"]
    assert (telegram["channel"], telegram["status"], telegram["reason"]) == (
        "telegram",
        "unreachable",
        "BLOCKED",
    )
    assert (viber["channel"], viber["status"]) == ("viber_bot", "delivered")
    assert text not in texts(stack.tg_received())
    assert texts(stack.vb_received(phone)) == [text]


def test_viber_never_confirms_so_its_window_ends_and_the_cascade_moves_on(stack: Stack) -> None:
    phone = "+380501000046"
    stack.script("viber", phone, reachable=True, deliver_after_ms=None)
    stack.onboard_viber(phone)
    text = unique_text("never confirms")

    shown = stack.wait_final(stack.send_one(phone, text), timeout=WINDOW_S + 15)

    # The stack runs Telegram and Viber bots only (SMS, Viber Business and RCS are not
    # configured): the route runs out, and every step says why it did not deliver.
    assert shown["status"] == "undeliverable", shown
    assert shown["reason"]
    attempts = shown["attempts"]
    assert [a["channel"] for a in attempts] == [
        "telegram",
        "viber_bot",
        "viber_business",
        "rcs",
        "sms",
    ], attempts
    for attempt in attempts:
        assert attempt["status"] not in ("delivered", "read", "sending", "sent"), attempt
        assert attempt["reason"], attempt
        assert attempt["finishedAt"], attempt
    viber = attempts[1]
    assert viber["providerMessageId"]
    waited = when(viber["finishedAt"]) - when(viber["startedAt"])
    assert waited >= timedelta(seconds=WINDOW_S - 0.1), viber
    assert texts(stack.vb_received(phone)) == [text]  # sent once, never repeated


def test_the_ttl_running_out_mid_cascade_expires_the_message(stack: Stack) -> None:
    phone = "+380501000056"
    stack.script("viber", phone, reachable=True, deliver_after_ms=None)
    stack.onboard_viber(phone)
    text = unique_text("ttl")

    message_id = stack.send_one(phone, text, ttl=3)
    shown = stack.wait_final(message_id, timeout=15)

    assert shown["status"] == "expired", shown
    assert when(shown["updatedAt"]) >= when(shown["expiresAt"])
    channels = [a["channel"] for a in shown["attempts"]]
    assert channels == ["telegram", "viber_bot"], shown  # the Viber step was waiting
    assert shown["attempts"][1]["status"] != "delivered"
    # nothing is sent after the TTL: not on Viber again, not on any later step
    assert stack.wait_settled([message_id]) == {message_id: shown}
    assert texts(stack.vb_received(phone)) == [text]
    assert text not in texts(stack.tg_received())


def test_a_scheduled_message_leaves_at_its_time_and_never_before(stack: Stack) -> None:
    phone = "+380501000066"
    stack.onboard_telegram(phone)
    text = unique_text("scheduled")
    at = datetime.now(UTC) + timedelta(seconds=3)

    message_id = stack.send_one(phone, text, scheduledSent=at.isoformat().replace("+00:00", "Z"))

    while datetime.now(UTC) < at - timedelta(milliseconds=300):
        shown = stack.status(message_id)
        assert shown["status"] == "scheduled", shown
        assert shown["attempts"] == []
        assert text not in texts(stack.tg_received())
        time.sleep(0.2)
    shown = stack.wait_final(message_id)
    assert shown["status"] == "delivered", shown
    scheduled = when(shown["scheduledAt"])
    assert abs(scheduled - at) < timedelta(milliseconds=2)
    [attempt] = shown["attempts"]
    assert when(attempt["startedAt"]) >= scheduled
    [got] = [r for r in stack.tg_received() if r["text"] == text]
    assert got["at_ms"] >= int(at.timestamp() * 1000) - 1


def test_an_idempotent_repeat_is_delivered_once(stack: Stack) -> None:
    phone = "+380501000076"
    stack.onboard_telegram(phone)
    text = unique_text("idempotent")
    message = {
        "id": f"idem-{uuid.uuid4().hex}",
        "fromName": "Cascade e2e",
        "toPhone": phone,
        "messageType": "transaction",
        "text": text,
    }

    first = stack.send([message])
    again = stack.send([message])  # a client retrying after a timeout
    assert again == first
    shown = stack.wait_final(first[0])
    assert shown["status"] == "delivered", shown
    assert stack.send([message]) == first  # and once more after delivery

    settled = stack.wait_settled(first)
    assert texts(stack.tg_received()).count(text) == 1
    assert len(settled[first[0]]["attempts"]) == 1


def test_a_throttled_bot_pauses_and_recovers_with_nothing_lost_or_doubled(stack: Stack) -> None:
    slow, other = "+380501000086", "+380501000096"
    stack.onboard_telegram(slow)
    stack.onboard_telegram(other)
    stack.script("telegram", slow, reachable=True, throttle=True)
    sent = {
        stack.send_one(slow, unique_text("throttled a")): slow,
        stack.send_one(slow, unique_text("throttled b")): slow,
        stack.send_one(other, unique_text("throttled c")): other,
    }
    first = next(iter(sent))
    # Telegram answered 429: the attempt is paused, not failed, and the message waits.
    paused = stack.wait_status(
        first,
        lambda s: any(a["status"] == "paused" for a in s["attempts"]),
        what="a paused Telegram attempt",
    )
    assert paused["status"] == "processing", paused
    stack.script("telegram", slow, reachable=True)  # the flood is over

    received = []
    for message_id in sent:
        shown = stack.wait_final(message_id)
        assert shown["status"] == "delivered", shown
        assert shown["channel"] == "telegram"
        assert [a["channel"] for a in shown["attempts"]] == ["telegram"]
        received.append(shown["text"])
    stack.wait_settled(sent)
    at_sim = texts(stack.tg_received())
    for text in received:
        assert at_sim.count(text) == 1, text


# --- forged webhooks -------------------------------------------------------------------------


def test_a_forged_viber_callback_is_refused_and_changes_nothing(stack: Stack) -> None:
    phone = "+380501000106"
    stack.script("viber", phone, reachable=True, deliver_after_ms=None)
    stack.onboard_viber(phone)
    message_id = stack.send_one(phone, unique_text("forged viber"))
    waiting = stack.wait_status(
        message_id,
        lambda s: any(
            a["channel"] == "viber_bot" and a.get("providerMessageId") for a in s["attempts"]
        ),
        what="a Viber attempt waiting for its receipt",
    )
    token = int(waiting["attempts"][-1]["providerMessageId"])
    user = stack.http.get(f"{stack.vb_url}/_sim/users/{phone}").json()["id"]
    body = json.dumps(
        {
            "event": "delivered",
            "timestamp": int(time.time() * 1000),
            "chat_hostname": "SN-CHAT-SIM_",
            "message_token": token,
            "user_id": user,
        }
    ).encode()
    url = f"{stack.api_url}/webhooks/viber_bot/{stack.vb_bot_id}"
    json_type = {"Content-Type": "application/json"}

    forged = viber_sign(body, "not-the-bot-token")
    for headers in ({**json_type, "X-Viber-Content-Signature": forged}, json_type):
        answer = stack.http.post(url, content=body, headers=headers)
        assert answer.status_code == 401, answer.text
    shown = stack.status(message_id)
    assert shown["status"] == "processing", shown
    assert shown["attempts"][-1]["status"] == "sent", shown

    # The very same callback signed with the bot's token is Viber's, and is believed.
    signed = {**json_type, "X-Viber-Content-Signature": viber_sign(body, VIBER_TOKEN)}
    assert stack.http.post(url, content=body, headers=signed).status_code == 200
    assert stack.status(message_id)["status"] == "delivered"


def test_a_forged_telegram_update_is_refused_and_links_no_contact(stack: Stack) -> None:
    phone = "+380501000116"
    stack.script("telegram", phone, reachable=True)  # the chat exists at Telegram
    chat = chat_id_for(phone)
    update = {
        "update_id": 900001,
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": chat, "type": "private", "first_name": "Mallory"},
            "from": {"id": chat, "is_bot": False, "first_name": "Mallory"},
            "contact": {"phone_number": phone[1:], "first_name": "Mallory", "user_id": chat},
        },
    }
    url = f"{stack.api_url}/webhooks/telegram/{stack.tg_bot_id}"
    for secret in (None, "a-guessed-secret"):
        headers = {"Content-Type": "application/json"}
        if secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        answer = stack.http.post(url, json=update, headers=headers)
        assert answer.status_code == 401, answer.text

    text = unique_text("forged telegram")
    shown = stack.wait_final(stack.send_one(phone, text))
    telegram = shown["attempts"][0]
    assert (telegram["channel"], telegram["status"], telegram["reason"]) == (
        "telegram",
        "unreachable",
        "NO_CHAT",
    ), shown
    assert shown["status"] == "undeliverable", shown
    assert text not in texts(stack.tg_received())

    # The real user sharing the same contact through Telegram does link the chat.
    stack.onboard_telegram(phone)
    text = unique_text("after the real contact")
    assert stack.wait_final(stack.send_one(phone, text))["channel"] == "telegram"
    assert texts(stack.tg_received()).count(text) == 1


# --- status webhooks -------------------------------------------------------------------------


@dataclass
class Hit:
    at: float
    body: bytes
    signature: str
    answered: int


@dataclass
class Receiver:
    """A client's status-webhook endpoint on loopback: answers 500 first, then 200."""

    url: str = ""
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, body: bytes, signature: str) -> int:
        with self.lock:
            status = 500 if not self.hits else 200
            self.hits.append(Hit(time.monotonic(), body, signature, status))
            return status

    def snapshot(self) -> list[Hit]:
        with self.lock:
            return list(self.hits)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = found.answer(body, self.headers.get("X-Cascade-Signature", ""))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    found.url = f"http://127.0.0.1:{server.server_address[1]}/cascade-events"
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_status_webhooks_are_signed_numbered_and_retried(stack: Stack, receiver: Receiver) -> None:
    out = stack.cli("callbacks", "add", receiver.url, "--account", stack.account_id)
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    callback_id, secret = fields["callback id"].strip(), fields["secret"].strip()
    try:
        phone = "+380501000126"
        stack.onboard_telegram(phone)
        message_id = stack.send_one(phone, unique_text("status webhooks"))
        assert stack.wait_final(message_id)["status"] == "delivered"

        def ours(hits: list[Hit]) -> list[tuple[Hit, dict[str, Any]]]:
            events = [(h, json.loads(h.body)) for h in hits]
            return [(h, e) for h, e in events if e["messageId"] == message_id]

        deadline = time.monotonic() + 15
        while True:
            mine = ours(receiver.snapshot())
            acked = {e["seq"] for h, e in mine if h.answered == 200}
            if (
                mine
                and acked == {e["seq"] for _, e in mine}
                and any(e["status"] == "delivered" for _, e in mine)
            ):
                break
            assert time.monotonic() < deadline, [(h.answered, e) for h, e in mine]
            time.sleep(0.1)

        for hit, _ in mine:
            expected = hmac.new(secret.encode(), hit.body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(hit.signature, "sha256=" + expected), hit
        by_seq = {e["seq"]: e for _, e in mine}
        # Retries may reorder arrivals; the per-message seq puts them back in order.
        assert sorted(by_seq) == list(range(1, len(by_seq) + 1)), by_seq
        assert [by_seq[s]["status"] for s in sorted(by_seq)] == ["processing", "delivered"]
        assert by_seq[max(by_seq)]["channel"] == "telegram"
        ats = [by_seq[s]["at"] for s in sorted(by_seq)]
        assert ats == sorted(ats)

        # The first event was answered 500, so it came again later, byte for byte.
        first = receiver.snapshot()[0]
        assert first.answered == 500
        again = [h for h, _ in mine if h.body == first.body and h is not first]
        assert again, "the event answered 500 was never sent again"
        assert again[0].answered == 200
        assert again[0].at - first.at >= 0.5  # after a backoff, not at once
    finally:
        stack.cli("callbacks", "remove", callback_id, "--account", stack.account_id)


# --- crashes and many workers ---------------------------------------------------------------


def phones_ending_in_1(count: int) -> list[str]:
    """Ukrainian mobile numbers whose simulated Telegram users have a chat with any bot."""
    return [f"+38050{n:06d}1" for n in range(count)]


def bulk(phones: list[str], count: int, label: str) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{label}-{n}",
            "fromName": "Cascade e2e",
            "toPhone": phones[n % len(phones)],
            "messageType": "transaction",
            "text": f"{label} {n:05d}",
        }
        for n in range(count)
    ]


def send_bulk(stack: Stack, messages: list[dict[str, Any]]) -> list[str]:
    ids: list[str] = []
    for start in range(0, len(messages), 1000):
        ids += stack.send(messages[start : start + 1000])
    return ids


def in_doubt(shown: dict[str, Any]) -> bool:
    return shown["status"] == "undeliverable" and shown["reason"] == "IN_DOUBT"


def test_a_worker_killed_mid_batch_loses_nothing_and_sends_nothing_twice(
    make_stack: Callable[..., Stack],
) -> None:
    count, batch, in_flight = 2000, 256, 64
    stack = make_stack(
        settings={
            "CHANNEL_RATES": "off",
            "WORKER_LEASE_S": "2",
            "WORKER_BATCH": str(batch),
            "WORKER_CONCURRENCY": str(in_flight),
        },
        workers=0,
        telegram_rate_limits=False,
    )
    phones = phones_ending_in_1(200)
    stack.import_telegram_contacts(phones)
    messages = bulk(phones, count, "kill")
    ids = send_bulk(stack, messages)
    text_of = {message_id: m["text"] for message_id, m in zip(ids, messages, strict=True)}

    worker_a = stack.start_worker("worker-a", wait=False)
    deadline = time.monotonic() + 60
    while len(stack.tg_received()) < 300:
        assert worker_a.alive(), worker_a.output()
        assert time.monotonic() < deadline, stack.logs()
        time.sleep(0.05)
    stack.kill(worker_a)  # SIGKILL in the middle of a batch: sends in flight, results not
    at_kill = len(stack.tg_received())  # committed, intents of the rest committed
    assert 0 < at_kill < count, f"worker A was killed after {at_kill} sends"

    stack.start_worker("worker-b")  # takes A's tasks over once their 2 s leases run out
    stack.wait_all_final(timeout=120)
    shown = stack.statuses(ids)
    counted: dict[str, int] = {}
    for text in texts(stack.tg_received()):
        counted[text] = counted.get(text, 0) + 1

    twice = {text: n for text, n in counted.items() if n > 1}
    assert not twice, f"delivered more than once: {twice}"
    assert set(counted) <= set(text_of.values())
    for message_id, status in shown.items():
        assert status["status"] in FINAL, status
        if text_of[message_id] in counted:
            # the send that reached Telegram is either known delivered, or reported in doubt
            assert status["status"] == "delivered" or in_doubt(status), status
        else:
            # at most once: a message that never arrived is reported, never lost silently
            assert in_doubt(status), status
        if in_doubt(status):
            assert [a["status"] for a in status["attempts"]] == ["unknown"], status
    doubtful = [m for m, s in shown.items() if in_doubt(s)]
    arrived = sum(1 for m in doubtful if text_of[m] in counted)
    print(
        f"\nSIGKILL after {at_kill} of {count} sends: {len(doubtful)} ended IN_DOUBT "
        f"({arrived} of them had reached Telegram, {len(doubtful) - arrived} had not)"
    )
    # Only sends really under way at the kill can be in doubt: an intent is committed just
    # before its request leaves, at most `in_flight` requests are out at once, and finished
    # ones wait at most one result group (5 ms or 128 results) for their commit.
    assert len(doubtful) <= in_flight + 128
    delivered = sum(1 for s in shown.values() if s["status"] == "delivered")
    assert delivered + len(doubtful) == count


@pytest.mark.postgres
def test_two_workers_on_postgresql_share_the_load_without_double_sends(
    pg_database: str, make_stack: Callable[..., Stack]
) -> None:
    """Two `cascade worker` processes on one PostgreSQL database (requested before
    `make_stack`, so it is dropped only after every process has stopped).

    Which worker sent a message is not stored anywhere (a task's lease owner is cleared
    when the message moves on), so each worker is pointed at a Telegram simulator of its
    own: what each simulator received is exactly what its worker sent. Both simulators
    serve the same bot and users, so for Cascade it is one Telegram.
    """
    count = 2000
    stack = make_stack(
        database_url=pg_database,
        settings={"CHANNEL_RATES": "off", "WORKER_BATCH": "100"},
        workers=0,
        telegram_rate_limits=False,
        extra_telegram_sims=1,
    )
    [second_sim] = stack.extra_tg_urls
    one = stack.start_worker("worker-1")
    two = stack.start_worker("worker-2", telegram_api_url=second_sim)
    phones = phones_ending_in_1(200)
    stack.import_telegram_contacts(phones)
    messages = bulk(phones, count, "pg")
    ids = send_bulk(stack, messages)

    stack.wait_all_final(timeout=120)
    assert one.alive()
    assert two.alive()
    shown = stack.statuses(ids)
    by_one = texts(stack.tg_received())
    by_two = texts(stack.tg_received(second_sim))

    everything = by_one + by_two
    assert len(everything) == len(set(everything)), "a message was sent twice"
    assert set(everything) == {m["text"] for m in messages}
    print(f"\nworker 1 sent {len(by_one)}, worker 2 sent {len(by_two)} of {count}")
    assert by_one, "worker 1 sent nothing"
    assert by_two, "worker 2 sent nothing"
    assert {s["status"] for s in shown.values()} == {"delivered"}
