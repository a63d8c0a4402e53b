"""ChatHub's tokens (SPEC E1) through the real app, on SQLite and PostgreSQL: company and
operator tokens, validate-token, the signing key, and every bad input the issue lists."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest

from cascade.bootstrap import build_app
from cascade.clock import ManualClock
from cascade.domain.chats import OperatorSync
from cascade.store.sql import SqlStore
from tests.chathub_company import (
    PASSWORD,
    SECRET,
    Company,
    app_client,
    assert_problem,
    bearer,
    company,
    iso,
)
from tests.conftest import test_settings as app_settings

DAY_S = 86_400


@pytest.fixture
async def acme(store: SqlStore) -> Company:
    return await company(store, "acme")


@pytest.fixture
async def other(store: SqlStore) -> Company:
    return await company(store, "other")


@pytest.fixture
async def api(store: SqlStore, clock: ManualClock, db_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(store, clock, db_url, jwt_secret=SECRET) as client:
        yield client


async def company_token(api: httpx.AsyncClient, c: Company) -> str:
    # exactly what the provider's ChathubClient.getToken sends, and reads
    response = await api.post(
        "/api/company/get-token",
        headers={"Content-Type": "application/json"},
        content=json.dumps({"login": c.login, "password": PASSWORD}),
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


async def operator_token(
    api: httpx.AsyncClient, c: Company, operator_id: int | None = None, **body: Any
) -> httpx.Response:
    return await api.post(
        "/api/operator/get-token",
        headers=c.key,
        json={"id": operator_id or c.operator.id, **body},
    )


# --- company tokens ----------------------------------------------------------------------


async def test_a_company_token_is_a_signed_jwt_for_24_hours(
    api: httpx.AsyncClient, acme: Company, clock: ManualClock
) -> None:
    response = await api.post(
        "/api/company/get-token", json={"login": acme.login, "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["expiration"] == iso(clock.now_ms() + DAY_S * 1000)
    claims = jwt.decode(
        body["token"],
        SECRET,
        algorithms=["HS256"],
        audience="chathub",
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["typ"] == "company"
    assert claims["acc"] == acme.account.id
    assert claims["exp"] == clock.now_ms() // 1000 + DAY_S
    assert "op" not in claims


async def test_accept_text_plain_gets_the_bare_token(api: httpx.AsyncClient, acme: Company) -> None:
    response = await api.post(
        "/api/company/get-token",
        json={"login": acme.login, "password": PASSWORD},
        headers={"Accept": "text/plain"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    token = response.text
    assert token.count(".") == 2
    assert (await api.get("/api/company/organization", headers=bearer(token))).status_code == 200


async def test_the_field_names_match_in_any_case(api: httpx.AsyncClient, acme: Company) -> None:
    response = await api.post(
        "/api/company/get-token", json={"Login": acme.login, "PASSWORD": PASSWORD}
    )
    assert response.status_code == 200


async def test_a_company_tokens_life_is_a_setting(
    store: SqlStore, clock: ManualClock, db_url: str, acme: Company
) -> None:
    async with app_client(store, clock, db_url, company_token_seconds=600) as api:
        token = await company_token(api, acme)
        clock.advance(599)
        assert (
            await api.get("/api/company/organization", headers=bearer(token))
        ).status_code == 200
        clock.advance(1)
        response = await api.get("/api/company/organization", headers=bearer(token))
    assert assert_problem(response, 401) == "The token has expired"


@pytest.mark.parametrize(
    ("login", "password"), [("acme-login", "wrong password"), ("nobody", PASSWORD)]
)
async def test_a_wrong_password_and_an_unknown_login_are_refused_alike(
    api: httpx.AsyncClient, acme: Company, login: str, password: str
) -> None:
    response = await api.post("/api/company/get-token", json={"login": login, "password": password})
    assert assert_problem(response, 401) == "Invalid login or password"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": PASSWORD}, "login"),
        ({"login": "acme-login"}, "password"),
        ({"login": "acme-login", "password": None}, "password"),
        ({"login": 5, "password": PASSWORD}, "login"),
    ],
)
async def test_a_missing_or_mistyped_field_is_400(
    api: httpx.AsyncClient, acme: Company, body: dict[str, Any], field: str
) -> None:
    response = await api.post("/api/company/get-token", json=body)
    assert_problem(response, 400, field)


async def test_a_body_that_is_not_a_json_object(api: httpx.AsyncClient) -> None:
    headers = {"Content-Type": "application/json"}
    for body in (b"{not json", b"[1, 2]", b'"login"'):
        response = await api.post("/api/company/get-token", content=body, headers=headers)
        assert_problem(response, 400)
    response = await api.post(
        "/api/company/get-token", content=b"login=a", headers={"Content-Type": "text/plain"}
    )
    assert_problem(response, 415)


async def test_a_suspended_accounts_login_gets_no_token(
    api: httpx.AsyncClient, store: SqlStore, acme: Company
) -> None:
    await store.set_suspended(acme.account.id, True)
    response = await api.post(
        "/api/company/get-token", json={"login": acme.login, "password": PASSWORD}
    )
    assert assert_problem(response, 403) == "The account is suspended"


# --- operator tokens ---------------------------------------------------------------------


async def test_an_operator_token_until_the_time_asked(
    api: httpx.AsyncClient, acme: Company, clock: ManualClock
) -> None:
    until = clock.now_ms() + 3_600_000
    response = await operator_token(api, acme, expiresAt=iso(until))
    assert response.status_code == 200, response.text
    assert response.json()["expiration"] == iso(until)
    claims = jwt.decode(
        response.json()["token"],
        SECRET,
        algorithms=["HS256"],
        audience="chathub",
        options={"verify_exp": False, "verify_iat": False},
    )
    assert (claims["typ"], claims["acc"]) == ("operator", acme.account.id)
    assert (claims["op"], claims["org"]) == (acme.operator.id, acme.org.id)
    token = response.json()["token"]
    clock.advance(3_599)
    assert (await api.get("/api/company/organization", headers=bearer(token))).status_code == 200
    clock.advance(1)
    response = await api.get("/api/company/organization", headers=bearer(token))
    assert assert_problem(response, 401) == "The token has expired"


async def test_an_operator_token_is_asked_for_with_a_company_token_too(
    api: httpx.AsyncClient, acme: Company, clock: ManualClock
) -> None:
    token = await company_token(api, acme)
    response = await api.post(
        "/api/operator/get-token",
        headers={**bearer(token), "Accept": "text/plain"},
        json={"id": acme.operator.id, "expiresAt": iso(clock.now_ms() + DAY_S * 1000)},
    )
    assert response.status_code == 200, response.text
    assert response.text.count(".") == 2


async def test_without_expires_at_an_operator_token_lives_24_hours(
    api: httpx.AsyncClient, acme: Company, clock: ManualClock
) -> None:
    response = await operator_token(api, acme)
    assert response.json()["expiration"] == iso(clock.now_ms() + DAY_S * 1000)


@pytest.mark.parametrize(
    ("offset_s", "detail"),
    [
        (-1, "expiresAt is in the past"),
        (0, "expiresAt is in the past"),
        (DAY_S + 1, "expiresAt is more than 24 hours ahead"),
        (30 * DAY_S, "expiresAt is more than 24 hours ahead"),
    ],
)
async def test_expires_at_in_the_past_or_beyond_24_hours_is_400(
    api: httpx.AsyncClient, acme: Company, clock: ManualClock, offset_s: int, detail: str
) -> None:
    response = await operator_token(api, acme, expiresAt=iso(clock.now_ms() + offset_s * 1000))
    assert assert_problem(response, 400, "expiresAt") == detail


@pytest.mark.parametrize("value", ["tomorrow", "2026-13-01T00:00:00Z", 1767225600])
async def test_expires_at_that_is_no_date_is_400(
    api: httpx.AsyncClient, acme: Company, value: object
) -> None:
    assert_problem(await operator_token(api, acme, expiresAt=value), 400, "expiresAt")


async def test_an_operator_of_another_account_is_404(
    api: httpx.AsyncClient, store: SqlStore, acme: Company, other: Company
) -> None:
    [theirs] = await store.synchronize_operators(
        other.account.id, [OperatorSync(other.org.id, "Eve", 42)]
    )
    response = await api.post("/api/operator/get-token", headers=acme.key, json={"id": theirs.id})
    assert assert_problem(response, 404, "id") == "No such operator"
    response = await api.post("/api/operator/get-token", headers=other.key, json={"id": 42})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "body", [{}, {"id": None}, {"id": "1"}, {"id": 0}, {"id": True}, {"id": 1.5}, {"id": 2**53}]
)
async def test_an_operator_id_that_is_not_one_is_400(
    api: httpx.AsyncClient, acme: Company, body: dict[str, Any]
) -> None:
    response = await api.post("/api/operator/get-token", headers=acme.key, json=body)
    assert_problem(response, 400, "id")


async def test_an_operator_token_cannot_mint_tokens(api: httpx.AsyncClient, acme: Company) -> None:
    token = (await operator_token(api, acme)).json()["token"]
    response = await api.post(
        "/api/operator/get-token", headers=bearer(token), json={"id": acme.operator.id}
    )
    assert_problem(response, 403)


async def test_a_deleted_operator_gets_no_token_and_its_tokens_stop(
    api: httpx.AsyncClient, acme: Company
) -> None:
    token = (await operator_token(api, acme)).json()["token"]
    response = await api.post(
        "/api/operator/status", headers=acme.key, json={"id": acme.operator.id, "status": 2}
    )
    assert response.status_code == 200
    assert assert_problem(await operator_token(api, acme), 404, "id") == "The operator is deleted"
    response = await api.get("/api/company/organization", headers=bearer(token))
    assert assert_problem(response, 401) == "The token's operator is deleted"


# --- refused tokens ----------------------------------------------------------------------


def _tamper_payload(token: str, **changes: object) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


async def test_a_tampered_or_foreign_token_is_401(
    api: httpx.AsyncClient, acme: Company, other: Company, clock: ManualClock
) -> None:
    token = await company_token(api, acme)
    head, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    foreign = jwt.encode(
        {
            "iss": "cascade",
            "aud": "chathub",
            "typ": "company",
            "acc": other.account.id,
            "iat": clock.now_ms() // 1000,
            "exp": clock.now_ms() // 1000 + 60,
        },
        "another-installation-key-32-bytes-long!!",
        algorithm="HS256",
    )
    unsigned = jwt.encode(
        {"typ": "company", "acc": acme.account.id, "exp": 2**40}, None, algorithm="none"
    )
    for bad in (
        f"{head}.{payload}.{flipped}",
        _tamper_payload(token, acc=other.account.id),
        _tamper_payload(token, exp=clock.now_ms() // 1000 + 10 * DAY_S),
        foreign,
        unsigned,
        "not-a-token",
    ):
        response = await api.get("/api/company/organization", headers=bearer(bad))
        assert_problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_no_credentials_or_another_scheme_is_401(api: httpx.AsyncClient) -> None:
    assert_problem(await api.get("/api/company/organization"), 401)
    response = await api.get("/api/company/organization", headers={"Authorization": "Basic eDp5"})
    assert "Bearer" in assert_problem(response, 401)
    response = await api.get("/api/company/organization", headers={"X-Authorization-Key": "nope"})
    assert assert_problem(response, 401) == "Invalid API key"


async def test_a_token_and_a_key_of_different_accounts_are_401(
    api: httpx.AsyncClient, acme: Company, other: Company
) -> None:
    token = await company_token(api, acme)
    response = await api.get("/api/company/organization", headers={**bearer(token), **other.key})
    assert_problem(response, 401)
    both = {**bearer(token), **acme.key}
    assert (await api.get("/api/company/organization", headers=both)).status_code == 200


async def test_the_access_token_query_parameter_as_signalr_sends_it(
    api: httpx.AsyncClient, acme: Company
) -> None:
    token = await company_token(api, acme)
    response = await api.get("/api/company/organization", params={"access_token": token})
    assert response.status_code == 200


# --- validate-token ----------------------------------------------------------------------


async def test_validate_a_company_and_an_operator_token(
    api: httpx.AsyncClient, acme: Company, clock: ManualClock
) -> None:
    token = await company_token(api, acme)
    response = await api.post("/api/operator/validate-token", json={"token": token})
    assert response.json() == {
        "isValid": True,
        "operatorId": None,
        "clientId": acme.account.id,
        "expiresAt": iso(clock.now_ms() + DAY_S * 1000),
        "error": None,
    }
    until = clock.now_ms() + 60_000
    token = (await operator_token(api, acme, expiresAt=iso(until))).json()["token"]
    response = await api.post("/api/operator/validate-token", json={"token": token})
    assert response.json() == {
        "isValid": True,
        "operatorId": acme.operator.id,
        "clientId": acme.account.id,
        "expiresAt": iso(until),
        "error": None,
    }
    clock.advance(60)
    response = await api.post("/api/operator/validate-token", json={"token": token})
    assert response.json() == {
        "isValid": False,
        "operatorId": acme.operator.id,
        "clientId": acme.account.id,
        "expiresAt": iso(until),
        "error": "The token has expired",
    }


async def test_validate_a_tampered_token(api: httpx.AsyncClient, acme: Company) -> None:
    token = await company_token(api, acme)
    response = await api.post(
        "/api/operator/validate-token", json={"token": _tamper_payload(token, acc="x")}
    )
    assert response.status_code == 200
    assert response.json() == {
        "isValid": False,
        "operatorId": None,
        "clientId": None,
        "expiresAt": None,
        "error": "The token's signature is invalid",
    }


async def test_validate_without_a_token_is_400(api: httpx.AsyncClient) -> None:
    assert_problem(await api.post("/api/operator/validate-token", json={}), 400, "token")


# --- the signing key ---------------------------------------------------------------------


async def test_unset_the_key_is_generated_once_and_shared_through_the_database(
    store: SqlStore, clock: ManualClock, db_url: str, acme: Company
) -> None:
    async with app_client(store, clock, db_url) as first:
        token = await company_token(first, acme)
    other_process_store = SqlStore(db_url, clock, sqlite_synchronous="NORMAL", pool_size=2)
    try:
        async with app_client(other_process_store, clock, db_url) as second:
            response = await second.get("/api/company/organization", headers=bearer(token))
            assert response.status_code == 200
        stored = await store.installation_secret("chathub_jwt_key", "unused")
        assert stored != "unused"
        assert len(stored) >= 32
        jwt.decode(
            token,
            stored,
            algorithms=["HS256"],
            audience="chathub",
            options={"verify_exp": False, "verify_iat": False},
        )
    finally:
        await other_process_store.close()


async def test_a_configured_key_signs_and_a_token_of_another_key_is_refused(
    store: SqlStore, clock: ManualClock, db_url: str, acme: Company
) -> None:
    async with app_client(store, clock, db_url) as generated:
        token = await company_token(generated, acme)
    async with app_client(store, clock, db_url, jwt_secret=SECRET) as configured:
        assert_problem(
            await configured.get("/api/company/organization", headers=bearer(token)), 401
        )


def test_a_short_configured_key_is_refused_at_start(
    store: SqlStore, clock: ManualClock, db_url: str
) -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        build_app(app_settings(db_url, jwt_secret="short"), clock=clock, store=store)
