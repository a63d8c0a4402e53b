"""`/widget/demo` (the operator chat panel's demo page): served only when
CASCADE_WIDGET_DEMO is on, as `cascade up` turns it; it carries no credential (a sign-in
form that asks ChatHub for tokens), and its one inline script is the one its
Content-Security-Policy allows by hash. (The page working in a browser:
tests/test_readme_widget_demo.py.)"""

from __future__ import annotations

import base64
import hashlib
import re

from cascade.clock import ManualClock
from cascade.store.sql import SqlStore
from tests.chathub_company import app_client

PAGE = "/widget/demo"


async def test_off_unless_asked(store: SqlStore, clock: ManualClock, db_url: str) -> None:
    async with app_client(store, clock, db_url) as api:
        assert (await api.get(PAGE)).status_code == 404


async def test_the_page_holds_no_credential_and_allows_only_its_script(
    store: SqlStore, clock: ManualClock, db_url: str
) -> None:
    login = 'demo"><script>alert(1)</script>'
    async with app_client(store, clock, db_url, widget_demo=True, demo_login=login) as api:
        page = await api.get(PAGE)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    body = page.text
    assert "<script>alert(1)</script>" not in body  # the login is escaped into the field
    assert 'value="demo&quot;&gt;&lt;script&gt;' in body
    assert 'type="password"' in body
    assert not re.search(r"eyJ[\w-]+\.[\w-]+\.", body)  # no JWT
    assert "X-Authorization-Key" not in body
    [script] = re.findall(r'<script type="module">(.*?)</script>', body, re.S)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    csp = page.headers["content-security-policy"]
    assert f"script-src 'self' 'sha256-{digest}'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "api/company/get-token" in script
    assert "api/operator/get-token" in script
