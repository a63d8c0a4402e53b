"""Log lines (cascade.logs): JSON (one object a line) or text, and the message a line is
about on every line logged while it is handled — by the worker's sends (the channel's own
lines too) and by the intake."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest

from cascade.bootstrap import build_app
from cascade.clock import ManualClock
from cascade.config import Settings
from cascade.domain.sending import Delivered, Outbound, Outcome
from cascade.engine.worker import Worker, WorkerConfig
from cascade.logs import about_message, configure
from cascade.store import StoreError
from cascade.store.memory import MemoryStore
from tests.conftest import make_account
from tests.test_engine import Scene, ScriptedChannel

PHONE = "+380501234567"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The root logger's lines as JSON, into a buffer; the root as it was afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    out = io.StringIO()
    configure("debug", "json", out)
    yield out
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_json_is_one_object_a_line_with_the_message_context(captured: io.StringIO) -> None:
    log = logging.getLogger("cascade.test")
    log.info("plain")
    with about_message("m-1", "a-1"):
        log.warning("about %s", "it")
        with about_message(account="a-2"):
            log.info("inner")
        log.info("own", extra={"message_id": "m-9", "channel": "sms"})
    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError:
        log.exception("failed")
    first, about, inner, own, failed = lines(captured)
    assert set(first) == {"time", "level", "logger", "message"}
    assert (first["level"], first["logger"], first["message"]) == ("info", "cascade.test", "plain")
    assert str(first["time"]).endswith("Z")
    assert about == {**about, "message": "about it", "message_id": "m-1", "account": "a-1"}
    assert (inner["message_id"], inner["account"]) == ("m-1", "a-2")
    assert (own["message_id"], own["account"], own["channel"]) == ("m-9", "a-1", "sms")
    assert "message_id" not in failed
    assert "RuntimeError: boom\nsecond line" in str(failed["exception"])
    assert len(captured.getvalue().splitlines()) == 5  # the traceback inside its line


async def test_the_context_follows_a_task_and_only_it(captured: io.StringIO) -> None:
    log = logging.getLogger("cascade.test")

    async def job(n: int) -> None:
        with about_message(f"m-{n}", "a"):
            await asyncio.sleep(0)
            log.info("job %d", n)

    await asyncio.gather(job(1), job(2))
    log.info("after")
    said = {
        str(line["message"]): line.get("message_id")
        for line in lines(captured)
        if line["logger"] == "cascade.test"  # not asyncio's own
    }
    assert said == {"job 1": "m-1", "job 2": "m-2", "after": None}


def test_text_puts_the_context_after_the_message() -> None:
    out = io.StringIO()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure("info", "text", out)
        log = logging.getLogger("cascade.test")
        with about_message("m-1", "a-1"):
            log.info("sent")
        log.debug("hidden")
        log.info("alone")
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
    sent, alone = out.getvalue().splitlines()
    assert sent.endswith(" INFO cascade.test sent [message_id=m-1 account=a-1]")
    assert alone.endswith(" INFO cascade.test alone")


def test_the_format_is_text_or_json() -> None:
    assert Settings.from_env({"CASCADE_LOG_FORMAT": "json"}).log_format == "json"
    assert Settings.from_env({}).log_format == "text"
    with pytest.raises(ValueError, match="CASCADE_LOG_FORMAT must be text or json"):
        Settings.from_env({"CASCADE_LOG_FORMAT": "yaml"})
    with pytest.raises(ValueError, match="not 'yaml'"):
        configure("info", "yaml")


async def test_a_send_and_its_channels_lines_name_the_message(
    captured: io.StringIO, clock: ManualClock
) -> None:
    store = MemoryStore(clock)
    account = await make_account(store)
    scene = Scene(store, clock, account)
    message_id = await scene.accept(PHONE)

    def answer(out: Outbound) -> Outcome:
        logging.getLogger("cascade.channels.sms").info("the provider took it")
        return Delivered("p-1")

    sms = ScriptedChannel("sms", script={PHONE: answer})
    worker = Worker(store, clock, {"sms": sms}, {}, WorkerConfig(enforce_rates=False), "w")
    assert await worker.run_once() == 1
    about = [line for line in lines(captured) if line.get("message_id") == message_id]
    said = {(line["logger"], line["message"]) for line in about}
    assert ("cascade.channels.sms", "the provider took it") in said
    assert ("cascade.engine.worker", "step 4 on sms: Delivered (provider id p-1)") in said
    assert {line["account"] for line in about} == {account.id}


async def test_the_intake_names_each_message_it_accepts(
    captured: io.StringIO, clock: ManualClock
) -> None:
    store = MemoryStore(clock)
    account = await make_account(store)
    settings = Settings(database_url="sqlite://", public_url="http://cascade.test")
    app = build_app(settings, clock=clock, store=store)  # type: ignore[arg-type]
    message = {"id": "o-1", "fromName": "Shop", "toPhone": PHONE, "messageType": "transaction"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://cascade.test"
    ) as client:
        for _ in range(2):
            sent = await client.post(
                "/api/CascadeMessage/send_message/async",
                json=[{**message, "text": "Hi"}],
                headers=account.headers,
            )
            assert sent.status_code == 200, sent.text
    [message_id] = {item["messageId"] for item in sent.json()}
    said = [
        (line["message"], line["account"])
        for line in lines(captured)
        if line.get("message_id") == message_id
    ]
    assert said == [
        ("accepted: standard route, to +380501234567", account.id),
        ("accepted before (a repeat): standard route, to +380501234567", account.id),
    ]


class Unavailable(MemoryStore):
    """A store whose public media cannot be read (the database is down)."""

    async def public_chat_media(self, token: str) -> None:
        raise StoreError("connection refused")


async def test_a_fault_logs_the_route_not_a_token_in_its_path(
    captured: io.StringIO, clock: ManualClock
) -> None:
    settings = Settings(database_url="sqlite://", public_url="http://cascade.test")
    app = build_app(settings, clock=clock, store=Unavailable(clock))  # type: ignore[arg-type]
    token = "capability-" + "x" * 32
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://cascade.test"
    ) as client:
        answer = await client.get(f"/api/chat/media/public/{token}/cat.png")
    assert answer.status_code == 503
    [line] = [line for line in lines(captured) if line["level"] == "warning"]
    assert "/api/chat/media/public/{token}/{name}" in str(line["message"])
    assert token not in captured.getvalue()
