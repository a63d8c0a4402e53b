"""`cascade send`'s core (cascade.csv_send) against the real app in process: a CSV read
into API messages with ids that are the same on every run, rows the API refuses set aside
with its error while the rest go, a run cut short and run again sending nothing twice,
429 waited out as Retry-After says."""

from __future__ import annotations

import csv
from pathlib import Path

import httpx
import pytest

from cascade.bootstrap import build_app
from cascade.clock import ManualClock
from cascade.csv_send import (
    CsvProblem,
    Outcome,
    Sender,
    batches,
    default_id,
    read_csv,
    rejected_path,
    write_rejected,
)
from cascade.store import schema as t
from cascade.store.sql import SqlStore
from tests.conftest import TestAccount
from tests.conftest import test_settings as app_settings
from tests.test_store_contract import count

GOOD = "+380501234560"


def write(tmp_path: Path, text: str, name: str = "people.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def numbered(n: int, with_ids: bool = True) -> str:
    """A CSV of `n` rows, half of them with an id of their own."""
    lines = ["phone,text,id"]
    for i in range(n):
        own = f"row-{i}" if with_ids and i % 2 == 0 else ""
        lines.append(f"+38050123{i:04d},Hello {i},{own}")
    return "\n".join(lines) + "\n"


# --- reading the file ----------------------------------------------------------------------


def test_rows_become_api_messages_with_ids_stable_across_runs(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "\ufeffPhone,TEXT,id,messageType,ttl,scheduledSent,fromName\n"
        f'{GOOD}," Hi, you ",own-1,promo,600,2030-01-01T00:00:00Z,Shop\n'
        "\n"
        f'+380501234561,"two\nlines",,,abc,,\n',
    )
    file = read_csv(path)
    assert file.header == ("Phone", "TEXT", "id", "messageType", "ttl", "scheduledSent", "fromName")
    first, second = file.rows
    assert first.message == {
        "toPhone": GOOD,
        "text": " Hi, you ",  # the text as written, spaces and all
        "id": "own-1",
        "messageType": "promo",
        "ttl": 600,
        "scheduledSent": "2030-01-01T00:00:00Z",
        "fromName": "Shop",
    }
    # no id: one made from the file's path and the row's line (the row begins on line 4)
    assert second.line == 4
    assert second.message == {
        "toPhone": "+380501234561",
        "text": "two\nlines",
        "ttl": "abc",  # not a number: the API's to refuse, with its own error
        "id": default_id(path, 4),
    }
    assert read_csv(path).rows == file.rows
    assert default_id(path, 4) != default_id(path, 5)
    assert default_id(path, 4) != default_id(write(tmp_path, "", "other.csv"), 4)
    assert default_id(path, 4).startswith("people.csv:")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("text,id\nHello,1\n", "no 'phone' column"),
        ("phone\n+380501234567\n", "no 'text' column"),
        ("phone,text,colour\n+380501234567,Hi,red\n", "unknown column 'colour'"),
        ("phone,text,Phone\n+1,a,+2\n", "column 'phone' given twice"),
        ("", "is empty"),
    ],
)
def test_a_file_that_cannot_be_sent_says_why(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(CsvProblem, match=says):
        read_csv(write(tmp_path, text))


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("phone,text\n+380501234567,Olá\n".encode("latin-1"))
    with pytest.raises(CsvProblem, match="not UTF-8"):
        read_csv(path)


# --- against the real app ------------------------------------------------------------------


@pytest.fixture
def app(store: SqlStore, clock: ManualClock, db_url: str) -> httpx.AsyncBaseTransport:
    return httpx.ASGITransport(app=build_app(app_settings(db_url), clock=clock, store=store))


class CutAfter(httpx.AsyncBaseTransport):
    """Passes `requests` requests to the app, then cuts the run short; with `lose_answer`,
    the last one reaches the app and its answer is lost (the client cannot know whether
    it was taken)."""

    def __init__(self, app: httpx.AsyncBaseTransport, requests: int, lose_answer: bool) -> None:
        self._app = app
        self._left = requests
        self._lose = lose_answer
        self.sent = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._left == 0:
            raise Interrupted
        self._left -= 1
        response = await self._app.handle_async_request(request)
        self.sent += 1
        if self._left == 0 and self._lose:
            await response.aread()
            raise Interrupted
        return response


class Interrupted(Exception):
    """The run was stopped (Ctrl-C, a kill) while it sent."""


async def run(
    transport: httpx.AsyncBaseTransport, path: Path, key: str, size: int, outcome: Outcome
) -> None:
    """What `cascade send` does, without its progress bar."""
    async with httpx.AsyncClient(transport=transport, base_url="http://cascade.test") as client:
        sender = Sender(client, "standard", key, outcome=outcome)
        for rows in batches(read_csv(path).rows, size):
            await sender.send(rows)


@pytest.mark.parametrize("lose_answer", [False, True], ids=["between-batches", "answer-lost"])
async def test_a_run_cut_short_and_run_again_sends_nothing_twice(
    store: SqlStore,
    app: httpx.AsyncBaseTransport,
    account: TestAccount,
    tmp_path: Path,
    lose_answer: bool,
) -> None:
    path = write(tmp_path, numbered(7))
    cut = CutAfter(app, requests=1, lose_answer=lose_answer)
    first = Outcome()
    with pytest.raises(Interrupted):
        await run(cut, path, account.key, 3, first)
    assert cut.sent == 1
    assert await count(store, t.messages) == 3  # the first batch, whether or not answered
    assert first.accepted == (0 if lose_answer else 3)

    again = Outcome()
    await run(app, path, account.key, 3, again)
    assert (again.accepted, again.repeated, again.rejected) == (4, 3, [])
    assert await count(store, t.messages) == 7
    assert await count(store, t.tasks) == 7  # one delivery each: nothing queued twice
    # and once more: every row already sent
    third = Outcome()
    await run(app, path, account.key, 5, third)
    assert (third.accepted, third.repeated) == (0, 7)
    assert await count(store, t.messages) == 7


async def test_bad_rows_are_set_aside_with_the_apis_error_and_the_rest_sent(
    store: SqlStore, app: httpx.AsyncBaseTransport, account: TestAccount, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "phone,text,id,ttl\n"
        f"{GOOD},one,a,\n"
        "+12,bad phone,b,\n"
        f"{GOOD},two,c,\n"
        f"{GOOD},bad ttl,d,forever\n"
        f"{GOOD},three,e,,surplus\n"
        f"{GOOD},four,a,\n",  # id a again, other content
    )
    outcome = Outcome()
    await run(app, path, account.key, 10, outcome)
    assert outcome.accepted == 2
    got = {r.row.message["id"]: r for r in outcome.rejected}
    assert set(got) == {"b", "d", "e", "a"}
    assert (got["b"].code, got["b"].field, got["b"].row.line) == ("INVALID_PHONE", "toPhone", 3)
    assert got["d"].field == "ttl"
    assert got["e"].code == "TOO_MANY_CELLS"
    assert (got["a"].code, got["a"].row.line) == ("DUPLICATE_ID", 7)
    assert await count(store, t.messages) == 2

    written = write_rejected(read_csv(path), outcome.rejected)
    assert written == rejected_path(path) == tmp_path / "people.rejected.csv"
    with written.open(encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    assert [r["line"] for r in table] == ["3", "5", "6", "7"]
    assert table[0]["phone"] == "+12"
    assert table[0]["error"].startswith("INVALID_PHONE: ")
    assert table[0]["error"].endswith("(toPhone)")
    assert table[2]["text"] == "three"  # the row as written, but for its surplus cell


async def test_a_rate_limit_is_waited_out_as_retry_after_says(tmp_path: Path) -> None:
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "3"}, json={"error": {"code": "X"}}),
            httpx.Response(503, text="busy"),
            httpx.Response(200, json=[{"messageId": "m", "trackinId": "a", "repeated": True}]),
        ]
    )
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return next(answers)

    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)

    path = write(tmp_path, f"phone,text,id\n{GOOD},Hi,a\n")
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(answer), base_url="http://cascade.test"
    ) as client:
        sender = Sender(client, "tg-viber", "the-key", sleep=sleep)
        await sender.send(read_csv(path).rows)
    assert waited == [3.0, 1]
    assert [r.url.path for r in seen] == ["/api/CascadeMessage/send_message/tg-viber/async"] * 3
    assert {r.headers["X-Authorization-Key"] for r in seen} == {"the-key"}
    assert (sender.outcome.accepted, sender.outcome.repeated) == (0, 1)
