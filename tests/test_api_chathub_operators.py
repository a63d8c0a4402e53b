"""ChatHub's organizations and operators over REST (SPEC E2), on SQLite and PostgreSQL:
what a company and an operator each see, synchronize's ids, status changes, bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from cascade.clock import ManualClock
from cascade.domain.chats import OperatorSync
from cascade.store.sql import SqlStore
from tests.chathub_company import (
    SECRET,
    Company,
    app_client,
    assert_problem,
    bearer,
    company,
    iso,
)


@pytest.fixture
async def api(store: SqlStore, clock: ManualClock, db_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(store, clock, db_url, jwt_secret=SECRET) as client:
        yield client


@pytest.fixture
async def acme(store: SqlStore) -> Company:
    return await company(store, "acme")


@pytest.fixture
async def other(store: SqlStore) -> Company:
    return await company(store, "other")


async def op_token(api: httpx.AsyncClient, c: Company, operator_id: int) -> dict[str, str]:
    response = await api.post("/api/operator/get-token", headers=c.key, json={"id": operator_id})
    assert response.status_code == 200, response.text
    return bearer(response.json()["token"])


def op(id_: int, name: str, org: Any, status: int = 0) -> dict[str, Any]:
    return {
        "id": id_,
        "name": name,
        "status": status,
        "organization": {"id": org.id, "name": org.name},
    }


async def test_a_company_sees_its_organizations_an_operator_its_own(
    api: httpx.AsyncClient, store: SqlStore, acme: Company, other: Company
) -> None:
    sales = await store.create_organization(acme.account.id, "Sales")
    response = await api.get("/api/company/organization", headers=acme.key)
    assert response.json() == [
        {"id": acme.org.id, "name": "acme support"},
        {"id": sales.id, "name": "Sales"},
    ]
    headers = await op_token(api, acme, acme.operator.id)
    response = await api.get("/api/company/organization", headers=headers)
    assert response.json() == [{"id": acme.org.id, "name": "acme support"}]


async def test_operators_listed_by_organization(
    api: httpx.AsyncClient, store: SqlStore, acme: Company, other: Company
) -> None:
    sales = await store.create_organization(acme.account.id, "Sales")
    await store.synchronize_operators(acme.account.id, [OperatorSync(sales.id, "Bob")])
    everyone = [op(1, "Ann", acme.org), op(2, "Bob", sales)]
    assert (await api.get("/api/operator", headers=acme.key)).json() == everyone
    response = await api.get(f"/api/operator?organizationId={sales.id}", headers=acme.key)
    assert response.json() == [op(2, "Bob", sales)]
    # an operator sees its own organization's operators, whatever it asks for
    headers = await op_token(api, acme, 1)
    assert (await api.get("/api/operator", headers=headers)).json() == [op(1, "Ann", acme.org)]
    response = await api.get(f"/api/operator?organizationId={sales.id}", headers=headers)
    assert_problem(response, 404, "organizationId")


@pytest.mark.parametrize("value", ["abc", "0", "-1", "1.5", "9007199254740992", ""])
async def test_an_organization_id_that_is_not_one_is_400(
    api: httpx.AsyncClient, acme: Company, value: str
) -> None:
    response = await api.get("/api/operator", params={"organizationId": value}, headers=acme.key)
    assert_problem(response, 400, "organizationId")


async def test_another_accounts_organization_is_404(
    api: httpx.AsyncClient, acme: Company, other: Company
) -> None:
    response = await api.get(f"/api/operator?organizationId={other.org.id}", headers=acme.key)
    assert assert_problem(response, 404, "organizationId") == "No such organization"


async def test_synchronize_upserts_by_the_companys_ids(
    api: httpx.AsyncClient, store: SqlStore, acme: Company
) -> None:
    sales = await store.create_organization(acme.account.id, "Sales")
    body = [
        {"organizationId": sales.id, "name": "Ann Lee", "id": 1},  # renamed and moved
        {"organizationId": acme.org.id, "name": "Bob", "id": 500},  # the company's own id
        {"OrganizationId": acme.org.id, "Name": "  Cid  "},  # Cascade picks the next
    ]
    response = await api.post("/api/operator/synchronize", headers=acme.key, json=body)
    assert response.status_code == 200, response.text
    assert response.json() == [
        op(1, "Ann Lee", sales),
        op(500, "Bob", acme.org),
        op(501, "Cid", acme.org),
    ]
    listed = (await api.get("/api/operator", headers=acme.key)).json()
    assert [o["id"] for o in listed] == [1, 500, 501]
    # again with a company token: the same ids update, nothing is added
    token = (
        await api.post(
            "/api/company/get-token", json={"login": acme.login, "password": "s3cret: with a colon"}
        )
    ).json()["token"]
    again = [{"organizationId": acme.org.id, "name": "Bob B.", "id": 500}]
    response = await api.post("/api/operator/synchronize", headers=bearer(token), json=again)
    assert response.json() == [op(500, "Bob B.", acme.org)]
    assert len((await api.get("/api/operator", headers=acme.key)).json()) == 3


async def test_synchronize_keeps_an_operators_status(api: httpx.AsyncClient, acme: Company) -> None:
    await api.post("/api/operator/status", headers=acme.key, json={"id": 1, "status": 1})
    body = [{"organizationId": acme.org.id, "name": "Ann", "id": 1}]
    response = await api.post("/api/operator/synchronize", headers=acme.key, json=body)
    assert response.json() == [op(1, "Ann", acme.org, status=1)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"organizationId": 1, "name": "x"}, None),  # not an array
        ([5], None),
        ([{"name": "x"}], "[0].organizationId"),
        ([{"organizationId": "1", "name": "x"}], "[0].organizationId"),
        ([{"organizationId": "ORG", "name": ""}], "[0].name"),
        ([{"organizationId": "ORG", "name": "a\u0000b"}], "[0].name"),
        ([{"organizationId": "ORG", "name": "x" * 201}], "[0].name"),
        ([{"organizationId": "ORG", "name": "x", "id": -3}], "[0].id"),
        (
            [
                {"organizationId": "ORG", "name": "x", "id": 7},
                {"organizationId": "ORG", "name": "y", "id": 7},
            ],
            "[1].id",
        ),
    ],
)
async def test_synchronize_bad_input_is_400_and_writes_nothing(
    api: httpx.AsyncClient, acme: Company, body: Any, field: str | None
) -> None:
    def fill(value: Any) -> Any:
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, dict):
            return {k: acme.org.id if v == "ORG" else v for k, v in value.items()}
        return value

    response = await api.post("/api/operator/synchronize", headers=acme.key, json=fill(body))
    assert_problem(response, 400, field)
    assert len((await api.get("/api/operator", headers=acme.key)).json()) == 1


async def test_synchronize_into_another_accounts_organization_is_404(
    api: httpx.AsyncClient, acme: Company, other: Company
) -> None:
    body = [
        {"organizationId": acme.org.id, "name": "Fine", "id": 9},
        {"organizationId": other.org.id, "name": "Mallory"},
    ]
    response = await api.post("/api/operator/synchronize", headers=acme.key, json=body)
    assert_problem(response, 404, "[1].organizationId")
    assert [o["id"] for o in (await api.get("/api/operator", headers=acme.key)).json()] == [1]


async def test_synchronize_too_many_is_400(api: httpx.AsyncClient, acme: Company) -> None:
    body = [{"organizationId": acme.org.id, "name": f"op{i}"} for i in range(1_001)]
    assert_problem(await api.post("/api/operator/synchronize", headers=acme.key, json=body), 400)


async def test_operators_may_not_administer(api: httpx.AsyncClient, acme: Company) -> None:
    headers = await op_token(api, acme, 1)
    body = [{"organizationId": acme.org.id, "name": "Me too"}]
    assert_problem(await api.post("/api/operator/synchronize", headers=headers, json=body), 403)
    body2 = {"id": 1, "status": 0}
    assert_problem(await api.post("/api/operator/status", headers=headers, json=body2), 403)


async def test_status_changes_and_what_they_allow(
    api: httpx.AsyncClient, acme: Company, clock: ManualClock
) -> None:
    headers = await op_token(api, acme, 1)
    response = await api.post("/api/operator/status", headers=acme.key, json={"id": 1, "status": 1})
    assert response.json() == op(1, "Ann", acme.org, status=1)
    # inactive: keeps its token and may still get one
    assert (await api.get("/api/operator", headers=headers)).status_code == 200
    response = await api.post(
        "/api/operator/get-token",
        headers=acme.key,
        json={"id": 1, "expiresAt": iso(clock.now_ms() + 60_000)},
    )
    assert response.status_code == 200
    await api.post("/api/operator/status", headers=acme.key, json={"id": 1, "status": 2})
    assert_problem(await api.get("/api/operator", headers=headers), 401)
    # deleted ones stay listed, with status 2, and can come back
    assert (await api.get("/api/operator", headers=acme.key)).json() == [op(1, "Ann", acme.org, 2)]
    await api.post("/api/operator/status", headers=acme.key, json={"id": 1, "status": 0})
    assert (await api.get("/api/operator", headers=headers)).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"id": 1}, "status"),
        ({"id": 1, "status": 3}, "status"),
        ({"id": 1, "status": "0"}, "status"),
        ({"id": 1, "status": True}, "status"),
        ({"status": 0}, "id"),
    ],
)
async def test_status_bad_input_is_400(
    api: httpx.AsyncClient, acme: Company, body: dict[str, Any], field: str
) -> None:
    assert_problem(await api.post("/api/operator/status", headers=acme.key, json=body), 400, field)


async def test_status_of_another_accounts_operator_is_404(
    api: httpx.AsyncClient, store: SqlStore, acme: Company, other: Company
) -> None:
    await store.synchronize_operators(other.account.id, [OperatorSync(other.org.id, "Eve", 77)])
    response = await api.post(
        "/api/operator/status", headers=acme.key, json={"id": 77, "status": 2}
    )
    assert assert_problem(response, 404, "id") == "No such operator"
    assert (await store.operator(other.account.id, 77)).status == 0  # type: ignore[union-attr]
