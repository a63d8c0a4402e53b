"""The operator chat panel's files and CORS, through the real app (SPEC E5): content
types, caching, 304s, nothing outside the widget's files, the vendored SignalR client
being the locked release, and which origins may call ChatHub from a browser."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from cascade.api.chathub.widget import Assets, parse_origins
from cascade.bootstrap import build_app
from cascade.clock import SystemClock
from cascade.config import Settings
from cascade.store.sql import SqlStore
from tests.conftest import test_settings as app_settings

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "src/cascade/api/chathub/widget/static"
NODE = ROOT / "tests/node"
WIDGET = "/widget/operator-chat-panel"
ENTRY = f"{WIDGET}/widget-script.js"
ORIGIN = "http://crm.example.com:8443"
JS = "text/javascript; charset=utf-8"
# every relative import in a module: `from "./x.js"`, `import "./x.js"`, `import("./x.js")`
SETUP = "from setuptools import setup; setup()"
IMPORTS = re.compile(r"""(?:from|import)\s*\(?\s*["'](\./[^"']+)["']""")


@asynccontextmanager
async def _client(url: str, **settings: object) -> AsyncIterator[httpx.AsyncClient]:
    store = SqlStore(url, SystemClock(), sqlite_synchronous="NORMAL", pool_size=2)
    app = build_app(app_settings(url, **settings), store=store)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cascade.test") as c:
            yield c
    finally:
        await store.close()


@pytest.fixture
async def api(sqlite_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(sqlite_url) as client:
        yield client


def _version(entry: str) -> str:
    found = re.search(r'const VERSION = "([0-9a-f]{16})";', entry)
    assert found, "the entry script names its version"
    return found.group(1)


async def test_the_entry_script_revalidates_and_names_its_version(
    api: httpx.AsyncClient,
) -> None:
    response = await api.get(ENTRY)
    assert response.status_code == 200
    assert response.headers["content-type"] == JS
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "__CASCADE_WIDGET_VERSION__" not in response.text
    assert _version(response.text) == Assets.load().version
    # the browser's copy is still good: 304, no body, the same validator
    again = await api.get(ENTRY, headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == response.headers["etag"]
    changed = await api.get(ENTRY, headers={"If-None-Match": '"something-else"'})
    assert changed.status_code == 200


async def test_every_module_it_loads_is_served_for_good_under_its_version(
    api: httpx.AsyncClient,
) -> None:
    entry = (await api.get(ENTRY)).text
    version = _version(entry)
    assert "import(new URL(`v/${VERSION}/panel.js`, here)" in entry
    seen: set[str] = set()
    todo = ["panel.js"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        response = await api.get(f"{WIDGET}/v/{version}/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"] == JS, name
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        folder = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
        todo += [folder + spec[2:] for spec in IMPORTS.findall(response.text)]
    assert {"panel.js", "api.js", "hub.js", "dom.js", "styles.js", "vendor/signalr.min.js"} <= seen
    # a page holding an older entry script gets today's files, not cached for good
    stale = await api.get(f"{WIDGET}/v/0000000000000000/panel.js")
    assert stale.status_code == 200
    assert stale.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize(
    "path",
    [
        f"{WIDGET}/nothing.js",
        f"{WIDGET}/assets.py",
        f"{WIDGET}/routes.py",
        f"{WIDGET}/static/panel.js",
        f"{WIDGET}/%2e%2e/assets.py",
        f"{WIDGET}/..%2fassets.py",
        f"{WIDGET}/vendor/../../cors.py",
        f"{WIDGET}/v/{'0' * 16}/widget-script.js",  # the entry only at its own address
        f"{WIDGET}/v/{'0' * 16}",
    ],
)
async def test_nothing_but_the_widgets_files_is_served(api: httpx.AsyncClient, path: str) -> None:
    response = await api.get(path)
    assert response.status_code == 404
    assert "javascript" not in response.headers.get("content-type", "")


def test_the_vendored_signalr_client_is_the_locked_release() -> None:
    lock = json.loads((NODE / "package-lock.json").read_text())
    version = lock["packages"]["node_modules/@microsoft/signalr"]["version"]
    vendored = STATIC / "vendor/signalr.min.js"
    installed = NODE / "node_modules/@microsoft/signalr"
    if not installed.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("tests/node/node_modules is missing: make install-test runs npm ci")
        pytest.skip("tests/node/node_modules is not installed (make install-test)")
    assert json.loads((installed / "package.json").read_text())["version"] == version
    assert vendored.read_bytes() == (installed / "dist/browser/signalr.min.js").read_bytes()
    assert (STATIC / "vendor/signalr.LICENSE.txt").read_bytes() == (
        installed / "LICENSE.txt"
    ).read_bytes()


async def test_the_license_is_served_beside_it(api: httpx.AsyncClient) -> None:
    response = await api.get(f"{WIDGET}/vendor/signalr.LICENSE.txt")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert "The MIT License" in response.text


def test_no_module_writes_markup() -> None:
    """Every person's text is rendered as text: no module uses an HTML sink."""
    sinks = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(")
    for module in STATIC.glob("*.js"):
        assert not sinks.search(module.read_text()), module.name


def test_a_wheel_carries_the_widget(tmp_path: Path) -> None:
    """setuptools' build_py, the step that lays out a wheel's (and an install's) files,
    from pyproject.toml as it is: the static files are package data, not left behind."""
    result = subprocess.run(
        [sys.executable, "-c", SETUP, "-q", "build_py", "--build-lib", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    built = tmp_path / "cascade/api/chathub/widget/static"
    shipped = {p.relative_to(STATIC) for p in STATIC.rglob("*") if p.is_file()}
    assert shipped == {p.relative_to(built) for p in built.rglob("*") if p.is_file()}
    assert Assets.load().by_path.keys() == {str(p) for p in shipped}


# --- CORS -------------------------------------------------------------------------------


def _preflight(method: str, headers: str) -> dict[str, str]:
    return {
        "Origin": ORIGIN,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


async def test_any_origin_may_load_the_widget_and_negotiate_by_default(
    api: httpx.AsyncClient,
) -> None:
    # the SignalR browser client's negotiate: a POST with these headers is preflighted
    asked = "authorization, x-requested-with, x-signalr-user-agent"
    response = await api.options("/chathub/negotiate", headers=_preflight("POST", asked))
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    allowed = {
        h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
    }
    assert {"authorization", "content-type", "x-requested-with", "x-signalr-user-agent"} <= allowed
    methods = {m.strip() for m in response.headers["access-control-allow-methods"].split(",")}
    assert {"GET", "POST", "PUT"} <= methods
    assert "access-control-allow-credentials" not in response.headers  # tokens, not cookies
    # the answers themselves, refusals included, are readable by the page
    refused = await api.post(
        "/chathub/negotiate?negotiateVersion=1",
        headers={"Origin": ORIGIN, "Authorization": "Bearer nonsense"},
    )
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == "*"
    script = await api.get(ENTRY, headers={"Origin": ORIGIN})
    assert script.headers["access-control-allow-origin"] == "*"
    rest = await api.post(
        "/api/operator/validate-token", headers={"Origin": ORIGIN}, json={"token": "x"}
    )
    assert rest.headers["access-control-allow-origin"] == "*"


async def test_the_other_apis_stay_same_origin(api: httpx.AsyncClient, sqlite_url: str) -> None:
    for path in ("/api/CascadeMessage/status?trackingId=x", "/healthz"):
        response = await api.get(path, headers={"Origin": ORIGIN})
        assert "access-control-allow-origin" not in response.headers, path
    preflight = await api.options(
        "/api/CascadeMessage/send_message/async", headers=_preflight("POST", "authorization")
    )
    assert "access-control-allow-origin" not in preflight.headers


@pytest.fixture
async def listed(sqlite_url: str) -> AsyncIterator[httpx.AsyncClient]:
    origins = f"{ORIGIN}, https://portal.example.org"
    async with _client(sqlite_url, widget_origins=origins) as client:
        yield client


async def test_a_list_of_origins_lets_those_in_and_no_other(listed: httpx.AsyncClient) -> None:
    response = await listed.options(
        "/chathub/negotiate", headers=_preflight("POST", "authorization")
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "Origin" in response.headers["vary"]
    script = await listed.get(ENTRY, headers={"Origin": ORIGIN})
    assert script.headers["access-control-allow-origin"] == ORIGIN
    assert script.headers["vary"] == "Origin"

    stranger = "https://evil.example.net"
    refused = await listed.options(
        "/chathub/negotiate",
        headers={**_preflight("POST", "authorization"), "Origin": stranger},
    )
    assert refused.status_code == 403
    assert "access-control-allow-origin" not in refused.headers
    plain = await listed.get(ENTRY, headers={"Origin": stranger})
    assert plain.status_code == 200  # served (a script tag is no secret), unreadable there
    assert "access-control-allow-origin" not in plain.headers
    assert plain.headers["vary"] == "Origin"  # so no cache hands one origin's answer to another


@pytest.mark.parametrize(
    ("raw", "origins"),
    [
        ("*", None),
        ("", None),
        (" * ", None),
        ("https://a.example", {"https://a.example"}),
        (
            "https://A.example:8443/, http://b.example",
            {"https://a.example:8443", "http://b.example"},
        ),
        ("https://a.example https://b.example", {"https://a.example", "https://b.example"}),
    ],
)
def test_widget_origins_are_read(raw: str, origins: set[str] | None) -> None:
    assert parse_origins(raw) == (frozenset(origins) if origins is not None else None)


@pytest.mark.parametrize(
    "raw",
    [
        "a.example",
        "https://a.example/path",
        "ftp://a.example",
        "https://*.example",
        "*, https://x.y",
    ],
)
def test_a_widget_origin_that_is_none_stops_startup(raw: str, sqlite_url: str) -> None:
    with pytest.raises(ValueError, match="CASCADE_WIDGET_ORIGINS"):
        parse_origins(raw)
    with pytest.raises(ValueError, match="CASCADE_WIDGET_ORIGINS"):
        build_app(app_settings(sqlite_url, widget_origins=raw), store=_unused_store(sqlite_url))


def _unused_store(url: str) -> SqlStore:
    """A store that opens no connection (the app is refused before it starts)."""
    return SqlStore(url, SystemClock(), sqlite_synchronous="NORMAL", pool_size=1)


def test_the_setting_comes_from_the_environment() -> None:
    settings = Settings.from_env({"CASCADE_WIDGET_ORIGINS": "https://crm.example.com"})
    assert settings.widget_origins == "https://crm.example.com"
    assert Settings.from_env({}).widget_origins == "*"
