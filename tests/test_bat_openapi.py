"""The OpenAPI document's core-API part (`/bat/…`) says what the server accepts and
answers: the README's examples are valid message lists by it, each answer (200, and every
refusal with its status documented for its operation) has the documented shape, and
lists that break a documented rule are refused by the server too. (POST /bat/messagelist
is left out of the schemathesis run: see test_openapi_conformance.py.)"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import jsonschema_rs
import pytest

from cascade.api.docs import openapi_document
from cascade.store.sql import SqlStore
from tests.conftest import TestAccount
from tests.readme_blocks import sh_blocks
from tests.test_readme_bat import SECTION

DOCUMENT = openapi_document()
SEND = "/bat/messagelist"


def validator(name: str) -> Any:
    root = {"$ref": f"#/components/schemas/{name}", "components": DOCUMENT["components"]}
    return jsonschema_rs.Draft202012Validator(root)


def readme_bodies() -> list[dict[str, Any]]:
    bodies = []
    for block in sh_blocks(SECTION):
        body = re.search(r"-d '(.*?)'", block, re.S)
        if body:
            bodies.append(json.loads(body.group(1)))
    return bodies


def answer_schema(path: str, method: str, status: int) -> str:
    """The component the document names for this answer (asserting it documents it)."""
    responses = DOCUMENT["paths"][path][method]["responses"]
    assert str(status) in responses, (path, method, status)
    ref: str = responses[str(status)]["content"]["application/json"]["schema"]["$ref"]
    return ref.rsplit("/", 1)[1]


def test_every_bat_path_and_the_status_codes_of_d6() -> None:
    bat = {p: ops for p, ops in DOCUMENT["paths"].items() if p.startswith("/bat/")}
    assert set(bat) == {SEND, "/bat/message/{messageId}", "/bat/messagelist/{messagelistId}"}
    sent = set(bat[SEND]["post"]["responses"])
    assert {"200", "400", "401", "403", "413", "415", "422", "429"} <= sent
    assert "basic" in DOCUMENT["components"]["securitySchemes"]


def test_the_readme_examples_are_valid_lists() -> None:
    bodies = readme_bodies()
    assert len(bodies) >= 9
    lists = validator("BatMessageList")
    for body in bodies:
        assert lists.is_valid(body), list(lists.iter_errors(body))


SURVEY = {"from": "Shop", "to": "+380501234567", "type": "viber_survey", "text": "How?"}


@pytest.mark.parametrize(
    "message",
    [
        {**SURVEY, "messageData": {"survey": {"options": ["Only one"]}}},
        {**SURVEY, "text": "x" * 86, "messageData": {"options": ["Yes", "No"]}},
        {"from": "Shop", "to": "+380501234567", "type": "fax", "text": "Hi"},
        {"from": "Shop", "to": "38050abc", "type": "sms", "text": "Hi"},
        {"from": "Shop", "to": "+380501234567", "type": "sms"},
        {"from": "Shop", "to": "+380501234567", "type": "sms", "text": "Hi", "ttl": 2592001},
        {
            "from": "Shop",
            "to": "+380501234567",
            "type": "viber_promo",
            "text": "Sale",
            "messageData": {"image": "ftp://example.com/a.png"},
        },
    ],
)
async def test_a_list_the_document_refuses_the_server_refuses(
    client: httpx.AsyncClient, account: TestAccount, message: dict[str, Any]
) -> None:
    body = {"messages": [message]}
    assert not validator("BatMessageList").is_valid(body)
    answer = await client.post(SEND, json=body, headers=account.headers)
    assert answer.status_code in (400, 422), answer.text
    assert validator(answer_schema(SEND, "post", answer.status_code)).is_valid(answer.json())


async def test_answers_have_the_documented_shapes(
    client: httpx.AsyncClient, store: SqlStore, account: TestAccount
) -> None:
    sent = await client.post(
        SEND, json={"messages": readme_bodies()[0]["messages"] * 2}, headers=account.headers
    )
    assert sent.status_code == 200, sent.text
    assert validator(answer_schema(SEND, "post", 200)).is_valid(sent.json())
    message_id = sent.json()["messages"][0]["messageId"]
    list_id = sent.json()["messagelistId"]
    cases = [
        ("/bat/message/{messageId}", f"/bat/message/{message_id}", account.headers, 200),
        ("/bat/message/{messageId}", "/bat/message/nope", account.headers, 404),
        ("/bat/message/{messageId}", f"/bat/message/{message_id}", {}, 401),
        ("/bat/messagelist/{messagelistId}", f"/bat/messagelist/{list_id}", account.headers, 200),
        (
            "/bat/messagelist/{messagelistId}",
            f"/bat/messagelist/{list_id}?page=0",
            account.headers,
            400,
        ),
        ("/bat/messagelist/{messagelistId}", "/bat/messagelist/99999", account.headers, 404),
    ]
    for path, url, headers, status in cases:
        answer = await client.get(url, headers=headers)
        assert answer.status_code == status, (url, answer.text)
        shape = validator(answer_schema(path, "get", status))
        assert shape.is_valid(answer.json()), list(shape.iter_errors(answer.json()))
    plain = await client.post(
        SEND, content=b"{}", headers={**account.headers, "Content-Type": "text/plain"}
    )
    assert plain.status_code == 415
    assert validator(answer_schema(SEND, "post", 415)).is_valid(plain.json())
    await store.set_suspended(account.id, True)
    suspended = await client.get(f"/bat/message/{message_id}", headers=account.headers)
    assert suspended.status_code == 403, suspended.text
    assert validator(answer_schema("/bat/message/{messageId}", "get", 403)).is_valid(
        suspended.json()
    )
