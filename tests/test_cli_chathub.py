"""ChatHub's organizations and operators from the command line (`cascade orgs …`,
`cascade operators add`) on a migrated SQLite database, and what `cascade up` gives the
demo account: an organization owning both demo bots, an active operator, a company
token from the demo login."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx
import pytest

from cascade.clock import ManualClock
from cascade.domain.chats import Operator, OperatorStatus, Organization
from cascade.embedded import DEMO_ORGANIZATION, _prepare_demo
from cascade.security import hash_secret
from cascade.store.memory import MemoryStore
from tests.ports import free_port
from tests.test_cli import base_env, start_up, stop
from tests.test_cli_logins import Installation


@pytest.fixture
def installation(sqlite_url: str) -> Installation:
    return Installation(sqlite_url)


def _bot(installation: Installation, account_id: str, channel: str = "telegram") -> str:
    token = f"{channel}-{uuid.uuid4()}"
    bot_id: str = installation.store(
        lambda s: s.add_bot(account_id, channel, token, hash_secret(token))
    )
    return bot_id


def _created_org(installation: Installation, name: str, account_id: str) -> int:
    result = installation.cascade("orgs", "create", name, "--account", account_id)
    assert result.exit_code == 0, result.output
    found = re.fullmatch(r"organization id: (\d+)\n", result.output)
    assert found, result.output
    return int(found.group(1))


def test_an_organization_is_created_listed_and_given_bots(installation: Installation) -> None:
    acme = installation.account("acme")
    org_id = _created_org(installation, "Support", acme.id)
    tg, viber = _bot(installation, acme.id), _bot(installation, acme.id, "viber_bot")
    result = installation.cascade("orgs", "bots", str(org_id), tg, viber)
    assert result.exit_code == 0, result.output
    assert result.output == f"organization {org_id} owns 2 more bots\n"
    orgs: list[Organization] = installation.store(lambda s: s.organizations(acme.id))
    assert orgs == [Organization(org_id, acme.id, "Support")]
    bots: list[str] = installation.store(lambda s: s.organization_bots(org_id))
    assert sorted(bots) == sorted([tg, viber])
    listed = installation.cascade("orgs", "list", "--account", acme.id)
    assert listed.exit_code == 0
    assert listed.output.startswith(f"{org_id}  Support  (")
    assert tg in listed.output
    assert viber in listed.output


def test_a_bot_moves_to_the_organization_it_is_given_to(installation: Installation) -> None:
    acme = installation.account("acme")
    first = _created_org(installation, "First", acme.id)
    second = _created_org(installation, "Second", acme.id)
    bot = _bot(installation, acme.id)
    assert installation.cascade("orgs", "bots", str(first), bot).exit_code == 0
    assert installation.cascade("orgs", "bots", str(second), bot).exit_code == 0
    owner: Organization | None = installation.store(lambda s: s.bot_organization(bot))
    assert owner is not None
    assert owner.id == second


def test_bad_organization_commands_say_why(installation: Installation) -> None:
    acme = installation.account("acme")
    other = installation.account("other")
    org_id = _created_org(installation, "Support", acme.id)
    theirs = _bot(installation, other.id)
    result = installation.cascade("orgs", "bots", str(org_id), theirs)
    assert result.exit_code == 1
    assert f"no bot {theirs} in the organization's account" in result.output
    assert installation.store(lambda s: s.organization_bots(org_id)) == []
    result = installation.cascade("orgs", "bots", "999", theirs)
    assert result.exit_code == 1
    assert "no organization 999" in result.output
    result = installation.cascade("orgs", "create", "Ghosts", "--account", str(uuid.uuid4()))
    assert result.exit_code == 1
    assert "no account" in result.output
    result = installation.cascade("orgs", "create", "   ", "--account", acme.id)
    assert result.exit_code == 2
    assert "the name is empty" in result.output
    result = installation.cascade("orgs", "bots", "0", theirs)
    assert result.exit_code == 2
    assert installation.cascade("orgs", "bots", str(org_id)).exit_code == 2  # no BOT_IDS


def test_operators_are_added_with_the_next_id_of_their_account(installation: Installation) -> None:
    acme = installation.account("acme")
    org_id = _created_org(installation, "Support", acme.id)
    first = installation.cascade("operators", "add", str(org_id), "Ann")
    second = installation.cascade("operators", "add", str(org_id), " Bob ")
    assert (first.output, second.output) == ("operator id: 1\n", "operator id: 2\n")
    found: list[Operator] = installation.store(lambda s: s.operators(acme.id, org_id))
    assert found == [
        Operator(1, acme.id, org_id, "Ann", OperatorStatus.ACTIVE),
        Operator(2, acme.id, org_id, "Bob", OperatorStatus.ACTIVE),
    ]
    missing = installation.cascade("operators", "add", "12345", "Nobody")
    assert missing.exit_code == 1
    assert "no organization 12345" in missing.output


# --- cascade up ------------------------------------------------------------------------------


async def test_the_demo_gets_an_organization_with_its_bots_and_an_active_operator() -> None:
    store = MemoryStore(ManualClock())
    demo = await _prepare_demo(store, "demo-key", "demo", "pw")
    assert sorted(await store.organization_bots(demo.organization_id)) == sorted(demo.bots.values())
    assert len(demo.bots) == 2
    assert await store.organizations(demo.account.id) == [
        Organization(demo.organization_id, demo.account.id, DEMO_ORGANIZATION)
    ]
    operator = await store.operator(demo.account.id, demo.operator_id)
    assert operator is not None
    assert operator.status is OperatorStatus.ACTIVE
    # `up` again: the same organization and operator, nothing added
    again = await _prepare_demo(store, "demo-key", "demo", "pw2")
    assert (again.organization_id, again.operator_id) == (demo.organization_id, demo.operator_id)
    assert len(await store.operators(demo.account.id)) == 1
    # with the demo operator made inactive, the next `up` adds an active one
    await store.set_operator_status(demo.account.id, demo.operator_id, OperatorStatus.INACTIVE)
    third = await _prepare_demo(store, "demo-key", "demo", "pw3")
    assert third.operator_id != demo.operator_id
    active = await store.operator(demo.account.id, third.operator_id)
    assert active is not None
    assert active.status is OperatorStatus.ACTIVE


@pytest.mark.live
def test_up_prints_the_demo_operator_and_its_login_gets_chathub_tokens(tmp_path: Path) -> None:
    env = base_env(tmp_path / "demo.db")
    env["CASCADE_DEMO_PASSWORD"] = "demo-password"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "up.log"
    process = start_up(env, port, log)
    try:
        banner = re.search(
            r"organization (\d+) owns the demo bots; operator id (\d+)", log.read_text()
        )
        assert banner, log.read_text()
        org_id, operator_id = int(banner.group(1)), int(banner.group(2))
        # as the provider's ChathubClient.getToken does it
        response = httpx.post(
            f"{base}/api/company/get-token",
            headers={"Content-Type": "application/json"},
            content=b'{"login": "demo", "password": "demo-password"}',
            timeout=10,
        )
        assert response.status_code == 200, response.text
        company = {"Authorization": f"Bearer {response.json()['token']}"}
        response = httpx.post(
            f"{base}/api/operator/get-token", headers=company, json={"id": operator_id}, timeout=10
        )
        assert response.status_code == 200, response.text
        operator = {"Authorization": f"Bearer {response.json()['token']}"}
        listed = httpx.get(f"{base}/api/operator", headers=operator, timeout=10)
        assert listed.status_code == 200, listed.text
        [shown] = listed.json()
        assert (shown["id"], shown["status"], shown["organization"]["id"]) == (
            operator_id,
            0,
            org_id,
        )
    finally:
        stop(process)
