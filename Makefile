# The two commands of the quick start. Each installs what it needs into .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: up test install install-test bench

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,bench]'
	@# the README's curl examples are run as written (tests/test_readme_bat.py)
	@command -v curl >/dev/null || (apt-get update -qq && apt-get install -y -qq curl)
	@# a real browser for the operator chat panel's tests (tests/test_widget_*.py)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq chromium chromium-driver)
	@# the official SignalR JavaScript client, from the npm registry (tests/test_hub_clients.py)
	cd tests/node && npm ci --no-audit --no-fund --silent

## make up: install and start the embedded gateway (SQLite) on 127.0.0.1:8080
up: install
	$(BIN)/cascade up

## make test: install and run lint, types, import layers and the whole test suite
test: install-test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src
	$(BIN)/lint-imports
	$(BIN)/pytest
