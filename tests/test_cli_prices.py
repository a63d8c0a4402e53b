"""`cascade prices load FILE.csv` and `cascade prices list` (SPEC D9): a good file
replaces the whole table; a file with any bad row is refused whole, every bad row named."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cascade.channels.registry import CHANNELS
from cascade.cli import main as cli_main
from cascade.clock import ManualClock
from cascade.domain.prices import HEADER, Price, PriceTable
from cascade.store.sql import SqlStore

GOOD = (
    f"{HEADER}\n"
    "sms,+380,0.0150,EUR\n"
    "sms,38050,0.012,EUR\n"
    "viber_business,380,0.01,EUR\n"
    "flashcall,1,0,EUR\n"
)


@pytest.fixture
def runner(sqlite_url: str) -> CliRunner:
    return CliRunner(
        env={"CASCADE_DATABASE_URL": sqlite_url, "CASCADE_SQLITE_SYNCHRONOUS": "NORMAL"}
    )


def cli(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(cli_main, list(args), prog_name="cascade")


def stored(url: str) -> PriceTable:
    async def read() -> PriceTable:
        store = SqlStore(url, ManualClock())
        try:
            return await store.price_table()
        finally:
            await store.close()

    return asyncio.run(read())


def write(tmp_path: Path, text: str, name: str = "prices.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_load_reports_each_channel_and_list_prints_the_table(
    runner: CliRunner, sqlite_url: str, tmp_path: Path
) -> None:
    loaded = cli(runner, "prices", "load", write(tmp_path, GOOD))
    assert loaded.exit_code == 0, loaded.output
    assert loaded.stdout.startswith("loaded 4 prices (table version 1):\n")
    lines = {line.split()[0]: " ".join(line.split()[1:]) for line in loaded.stdout.splitlines()[1:]}
    assert lines["sms"] == "2 prices"
    assert lines["viber_business"] == "1 price"
    assert lines["flashcall"] == "1 price"
    assert lines["rcs"] == "none: no cost reported"
    assert set(lines) == {spec.name for spec in CHANNELS}

    table = stored(sqlite_url)
    assert table.version == 1
    assert Price("sms", "380", Decimal("0.015"), "EUR") in table.prices

    listed = cli(runner, "prices", "list")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout == (
        f"{HEADER}\n"
        "flashcall,1,0,EUR\n"
        "sms,380,0.015,EUR\n"
        "sms,38050,0.012,EUR\n"
        "viber_business,380,0.01,EUR\n"
    )
    # what `list` prints, `load` reads back: the same table, a new version
    again = cli(runner, "prices", "load", write(tmp_path, listed.stdout, "listed.csv"))
    assert again.exit_code == 0, again.output
    assert stored(sqlite_url).prices == table.prices
    assert stored(sqlite_url).version == 2


def test_a_load_replaces_the_table(runner: CliRunner, sqlite_url: str, tmp_path: Path) -> None:
    assert cli(runner, "prices", "load", write(tmp_path, GOOD)).exit_code == 0
    second = write(tmp_path, f"{HEADER}\nrcs,44,0.02,GBP\n", "second.csv")
    result = cli(runner, "prices", "load", second)
    assert result.exit_code == 0, result.output
    assert stored(sqlite_url).prices == (Price("rcs", "44", Decimal("0.02"), "GBP"),)


def test_a_file_with_bad_rows_loads_nothing_and_names_every_one(
    runner: CliRunner, sqlite_url: str, tmp_path: Path
) -> None:
    assert cli(runner, "prices", "load", write(tmp_path, GOOD)).exit_code == 0
    before = stored(sqlite_url)
    bad = write(
        tmp_path,
        f"{HEADER}\nsms,44,0.1,EUR\nwhatsapp,44,0.1,EUR\nsms,45,0.1234567,EUR\nsms,+44,1,EUR\n",
        "bad.csv",
    )
    result = cli(runner, "prices", "load", bad)
    assert result.exit_code == 1
    assert result.stdout == ""
    errors = result.stderr.splitlines()
    assert errors[0].startswith(f"{bad}: line 3: unknown channel 'whatsapp' (one of ")
    for spec in CHANNELS:
        assert spec.name in errors[0]  # the registry's channels are the known ones
    assert errors[1] == f"{bad}: line 4: price '0.1234567' has more than 6 decimal places"
    assert errors[2] == f"{bad}: line 5: sms 44 is priced already on line 2"
    assert errors[3] == "Error: nothing loaded: 3 bad lines"
    assert stored(sqlite_url) == before  # the table and its version as they were


def test_a_wrong_header_loads_nothing(runner: CliRunner, sqlite_url: str, tmp_path: Path) -> None:
    result = cli(runner, "prices", "load", write(tmp_path, "sms,380,0.1,EUR\n"))
    assert result.exit_code == 1
    assert "line 1: the header must be channel,country_prefix,price,currency" in result.stderr
    assert stored(sqlite_url).version == 0


def test_a_file_that_is_not_utf8(runner: CliRunner, sqlite_url: str, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(f"{HEADER}\nsms,380,0.1,EUR\n".encode() + b"sms,44,\xe9,EUR\n")
    result = cli(runner, "prices", "load", str(path))
    assert result.exit_code == 1
    assert f"Error: {path} is not UTF-8 text" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert stored(sqlite_url).version == 0


def test_a_missing_file_is_a_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    result = cli(runner, "prices", "load", str(tmp_path / "nowhere.csv"))
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_list_before_any_load(runner: CliRunner) -> None:
    result = cli(runner, "prices", "list")
    assert result.exit_code == 0
    assert result.stdout == f"{HEADER}\n"
    assert "no price table loaded yet" in result.stderr


def test_a_database_without_the_schema_is_a_clear_error(tmp_path: Path) -> None:
    runner = CliRunner(env={"CASCADE_DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}"})
    result = cli(runner, "prices", "list")
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # no traceback
    assert "Error: the database failed:" in result.stderr
    assert "cascade migrate" in result.stderr


def test_the_sample_price_file_loads(runner: CliRunner, sqlite_url: str) -> None:
    sample = Path(__file__).parent.parent / "docs" / "prices.example.csv"
    result = cli(runner, "prices", "load", str(sample))
    assert result.exit_code == 0, result.output
    table = stored(sqlite_url)
    assert {p.channel for p in table.prices} == {spec.name for spec in CHANNELS}
    assert table.price_of("sms", "+380501234567") == Price("sms", "38050", Decimal("0.029"), "EUR")
