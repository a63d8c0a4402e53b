"""deploy/grafana/cascade.json and the alert examples of docs/operations.md: every series
they query is one /metrics exposes after a run (tests/metrics_run.py), so no panel stays
empty and no alert stays silent for a misspelt or missing name."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from cascade.clock import ManualClock
from cascade.store.sql import SqlStore
from tests.metrics_run import metrics_run

ROOT = Path(__file__).parent.parent
DASHBOARD = ROOT / "deploy" / "grafana" / "cascade.json"
OPERATIONS = ROOT / "docs" / "operations.md"
SERIES = re.compile(r"\bcascade_[a-z0-9_]+")


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))  # those inside a collapsed row
    return found


def test_every_panel_has_a_query() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in panels(dashboard):
        if panel["type"] == "row":
            continue
        exprs = [t.get("expr", "") for t in panel.get("targets", [])]
        assert exprs, panel["title"]
        assert all(SERIES.search(e) for e in exprs), panel["title"]


def alert_rules() -> str:
    """The YAML block of docs/operations.md's alert examples."""
    text = OPERATIONS.read_text()
    start = text.index("```yaml", text.index("## What to alert on"))
    return text[start : text.index("```", start + 7)]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_every_series_a_panel_or_an_alert_names_is_exposed(
    store: SqlStore, clock: ManualClock, db_url: str
) -> None:
    run = await metrics_run(store, clock, db_url)
    exposed = run.after.names()
    alerts = {("alerts", name) for name in SERIES.findall(alert_rules())}
    assert len(alerts) >= 10
    named = alerts | {
        (panel["title"], name)
        for panel in panels(json.loads(DASHBOARD.read_text()))
        for target in panel.get("targets", [])
        for name in SERIES.findall(target.get("expr", ""))
    }
    assert len(named) > len(alerts)  # the dashboard's panels name series too
    missing = sorted((title, name) for title, name in named if name not in exposed)
    assert missing == []
