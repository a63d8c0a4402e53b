"""`cascade send FILE.csv`: a CSV of messages sent through Cascade's own HTTP API.

The file's rows go in batches to the send endpoint, as any client's would, so every rule
and error is exactly the API's. Each row carries a tracking id (its `id` cell, or one
made from the file's absolute path and the row's line), and the API is idempotent by
tracking id (SPEC A7): a run that was cut short can be run again, and the rows already
accepted are answered as repeats and not sent twice.

A batch the API refuses with a 400 names the first bad item: that row is set aside with
the API's error and the rest of the batch is sent again, until the batch is accepted.
429 is waited out as `Retry-After` says; 5xx answers and lost connections are tried again
with backoff (safe: the ids make a repeat harmless).
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

# The CSV's columns (matched without regard to case) and the API fields they fill.
COLUMNS = {
    "phone": "toPhone",
    "text": "text",
    "id": "id",
    "messagetype": "messageType",
    "ttl": "ttl",
    "scheduledsent": "scheduledSent",
    "fromname": "fromName",
}
REQUIRED = ("phone", "text")
ROUTES = {
    "standard": "/api/CascadeMessage/send_message/async",
    "tg-viber": "/api/CascadeMessage/send_message/tg-viber/async",
}
RATE_LIMIT_TRIES = 30  # 429s in a row before giving up
FAILURE_TRIES = 6  # 5xx answers or lost connections in a row before giving up
_ITEM = re.compile(r"^messages\[(\d+)\]")


class CsvProblem(Exception):
    """The file cannot be sent as it is (nothing was sent)."""


class SendAborted(Exception):
    """The API cannot take the rest (refused key, unreachable…): what was sent stays
    sent, and the same run can be started again."""


@dataclass(frozen=True, slots=True)
class Row:
    line: int  # where the row begins in the file (1: the header)
    cells: tuple[str, ...]  # as read, in the header's order
    message: dict[str, Any]  # the API's message object
    surplus: bool = False  # more cells than the header has columns: never sent


@dataclass(frozen=True, slots=True)
class Rejection:
    row: Row
    code: str
    message: str
    field: str | None

    def describe(self) -> str:
        where = f" ({self.field})" if self.field else ""
        return f"{self.code}: {self.message}{where}"


@dataclass(slots=True)
class Outcome:
    """What a run came to so far."""

    accepted: int = 0  # new messages
    repeated: int = 0  # accepted before (an earlier run): not sent again
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def done(self) -> int:
        return self.accepted + self.repeated + len(self.rejected)


@dataclass(frozen=True, slots=True)
class CsvFile:
    path: Path
    header: tuple[str, ...]
    rows: tuple[Row, ...]


def default_id(path: Path, line: int) -> str:
    """The tracking id of a row that has none: the file's name, a hash of its absolute
    path, and the row's line — the same on every run of the same file, so a run again
    finds the rows sent before (editing other rows keeps them; moving the file does not)."""
    where = hashlib.blake2b(str(path.resolve()).encode(), digest_size=8).hexdigest()
    return f"{path.name[:64]}:{where}:{line}"


def read_csv(path: Path) -> CsvFile:
    """The file's rows as API messages; CsvProblem when it cannot be sent at all."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM (spreadsheets write one) goes
    except UnicodeDecodeError as err:
        raise CsvProblem(f"{path} is not UTF-8 text ({err.reason})") from None
    except OSError as err:
        raise CsvProblem(f"cannot read {path}: {err.strerror}") from None
    reader = csv.reader(text.splitlines(keepends=True))
    try:
        header = tuple(cell.strip() for cell in next(reader))
    except StopIteration:
        raise CsvProblem(f"{path} is empty: expected a header row phone,text,…") from None
    keys = [cell.lower() for cell in header]
    missing = [name for name in REQUIRED if name not in keys]
    if missing:
        raise CsvProblem(
            f"{path}: no {' or '.join(repr(m) for m in missing)} column in the header "
            f"({','.join(header)}); the columns are {','.join(_NAMES)}"
        )
    unknown = [h for h, k in zip(header, keys, strict=True) if k not in COLUMNS]
    if unknown:
        raise CsvProblem(
            f"{path}: unknown column {', '.join(repr(u) for u in unknown)}; "
            f"the columns are {','.join(_NAMES)}"
        )
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise CsvProblem(f"{path}: column {', '.join(repr(t) for t in twice)} given twice")
    rows: list[Row] = []
    ended = reader.line_num
    for cells in reader:
        line, ended = ended + 1, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        message: dict[str, Any] = {}
        for key, cell in zip(keys, cells, strict=False):
            value = cell if key == "text" else cell.strip()
            if value:
                message[COLUMNS[key]] = _number(value) if key == "ttl" else value
        message.setdefault("id", default_id(path, line))
        rows.append(Row(line, tuple(cells), message, surplus=len(cells) > len(keys)))
    return CsvFile(path, header, tuple(rows))


_NAMES = ("phone", "text", "id", "messageType", "ttl", "scheduledSent", "fromName")


def _number(value: str) -> int | str:
    """A ttl of digits as a number; anything else as written, for the API to judge."""
    return int(value) if value.isdecimal() else value


def rejected_path(path: Path) -> Path:
    """Where a run writes its rejected rows: beside the file, FILE.rejected.csv."""
    return path.with_name(f"{path.stem}.rejected.csv")


def write_rejected(file: CsvFile, rejected: Sequence[Rejection]) -> Path:
    """The rejected rows as they were, with the line they came from and the API's error."""
    target = rejected_path(file.path)
    with target.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([*file.header, "line", "error"])
        for r in sorted(rejected, key=lambda r: r.row.line):
            cells = list(r.row.cells[: len(file.header)])
            cells += [""] * (len(file.header) - len(cells))
            writer.writerow([*cells, r.row.line, r.describe()])
    return target


def batches(rows: Sequence[Row], size: int) -> Iterable[Sequence[Row]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


Sleep = Callable[[float], Awaitable[None]]


class Sender:
    """Sends batches of rows to one send endpoint, adding what each came to to `outcome`."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        route: str,
        key: str,
        *,
        outcome: Outcome | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._client = client
        self._path = ROUTES[route]
        self._headers = {"X-Authorization-Key": key}
        self._sleep = sleep
        self.outcome = outcome if outcome is not None else Outcome()

    async def send(self, batch: Sequence[Row]) -> None:
        pending = [r for r in batch if not r.surplus]
        self.outcome.rejected.extend(
            Rejection(r, "TOO_MANY_CELLS", "the row has more cells than the header has", None)
            for r in batch
            if r.surplus
        )
        while pending:
            response = await self._post([r.message for r in pending])
            if response.status_code == 200:
                self._accepted(response)
                return
            if response.status_code != 400:
                raise SendAborted(_refusal(response))
            code, message, where = _error(response)
            found = _ITEM.match(where or "")
            index = int(found.group(1)) if found else None
            if index is None or index >= len(pending):
                # the whole request was refused, no item named: every row of it is
                self.outcome.rejected.extend(Rejection(r, code, message, where) for r in pending)
                return
            field = where[found.end() :].lstrip(".") if where and found else None
            self.outcome.rejected.append(Rejection(pending.pop(index), code, message, field))

    def _accepted(self, response: httpx.Response) -> None:
        items = response.json()
        repeated = sum(1 for item in items if item.get("repeated"))
        self.outcome.repeated += repeated
        self.outcome.accepted += len(items) - repeated

    async def _post(self, messages: list[dict[str, Any]]) -> httpx.Response:
        """One batch, tried again through rate limits, server faults and lost connections."""
        limited = failed = 0
        while True:
            try:
                response = await self._client.post(
                    self._path, json={"messages": messages}, headers=self._headers
                )
            except httpx.TransportError as err:
                failed += 1
                if failed >= FAILURE_TRIES:
                    raise SendAborted(f"the API cannot be reached: {err!r}") from None
                await self._sleep(min(2 ** (failed - 1), 30))
                continue
            if response.status_code == 429:
                limited += 1
                if limited >= RATE_LIMIT_TRIES:
                    raise SendAborted("the API's rate limit refused every try")
                await self._sleep(_retry_after(response))
                continue
            if response.status_code >= 500:
                failed += 1
                if failed >= FAILURE_TRIES:
                    raise SendAborted(_refusal(response))
                await self._sleep(min(2 ** (failed - 1), 30))
                continue
            return response


def _retry_after(response: httpx.Response) -> float:
    """Seconds to wait, as the 429's Retry-After says (1 when it says nothing usable)."""
    try:
        return max(float(response.headers.get("Retry-After", "1")), 0.0)
    except ValueError:
        return 1.0


def _error(response: httpx.Response) -> tuple[str, str, str | None]:
    """(code, message, field) of an error answer (SPEC A4's body)."""
    try:
        error = response.json()["error"]
        return str(error["code"]), str(error["message"]), error.get("field")
    except (ValueError, KeyError, TypeError):
        return "HTTP_400", response.text[:200], None


def _refusal(response: httpx.Response) -> str:
    code, message, _ = _error(response)
    status = response.status_code
    if status == 401:
        return "the API refused the key (401): give --key or CASCADE_API_KEY"
    if status == 413:
        return f"the API refused a batch as too large (413): use a smaller --batch ({message})"
    return f"the API answered {status} {code}: {message}"
