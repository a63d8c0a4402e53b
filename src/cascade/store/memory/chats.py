"""The in-memory store's ChatHub organizations and operators, and the installation's
secrets: as `cascade.store.sql.chats` does, over the tables' dicts."""

from __future__ import annotations

from collections.abc import Sequence

from cascade.domain.chats import (
    Operator,
    OperatorStatus,
    OperatorSync,
    Organization,
    next_operator_id,
)
from cascade.store.base import NotFound
from cascade.store.memory.tables import (
    InstallationSecretRow,
    MemoryBase,
    OperatorRow,
    OrganizationBotRow,
    OrganizationRow,
)


def _operator(row: OperatorRow) -> Operator:
    return Operator(
        row.id, row.account_id, row.organization_id, row.name, OperatorStatus(row.status)
    )


class Chats(MemoryBase):
    async def installation_secret(self, name: str, candidate: str) -> str:
        secrets = self._t.installation_secrets
        if name not in secrets:
            secrets[name] = InstallationSecretRow(
                name=name, value=candidate, created_at=self._clock.now_ms()
            )
        return secrets[name].value

    async def create_organization(self, account_id: str, name: str) -> Organization:
        if account_id not in self._t.accounts:
            raise NotFound("account", account_id)
        organization_id = max(self._t.organizations, default=0) + 1
        self._t.organizations[organization_id] = OrganizationRow(
            id=organization_id, account_id=account_id, name=name, created_at=self._clock.now_ms()
        )
        return Organization(organization_id, account_id, name)

    async def organizations(self, account_id: str) -> list[Organization]:
        return [
            Organization(row.id, row.account_id, row.name)
            for row in sorted(self._t.organizations.values(), key=lambda r: r.id)
            if row.account_id == account_id
        ]

    async def organization(self, organization_id: int) -> Organization | None:
        row = self._t.organizations.get(organization_id)
        return Organization(row.id, row.account_id, row.name) if row is not None else None

    async def attach_bots(
        self, account_id: str, organization_id: int, bot_ids: Sequence[str]
    ) -> None:
        self._own_organization(account_id, organization_id)
        wanted = list(dict.fromkeys(bot_ids))
        for bot_id in wanted:
            bot = self._t.bots.get(bot_id)
            if bot is None or bot.account_id != account_id:
                raise NotFound("bot", bot_id)
        now = self._clock.now_ms()
        for bot_id in wanted:
            self._t.organization_bots.pop(bot_id, None)  # re-attached: its order is now's
            self._t.organization_bots[bot_id] = OrganizationBotRow(
                bot_id=bot_id, organization_id=organization_id, attached_at=now
            )

    async def organization_bots(self, organization_id: int) -> list[str]:
        found = [
            r for r in self._t.organization_bots.values() if r.organization_id == organization_id
        ]
        return [r.bot_id for r in sorted(found, key=lambda r: (r.attached_at, r.bot_id))]

    async def bot_organization(self, bot_id: str) -> Organization | None:
        link = self._t.organization_bots.get(bot_id)
        if link is None:
            return None
        row = self._t.organizations[link.organization_id]
        return Organization(row.id, row.account_id, row.name)

    async def operators(
        self, account_id: str, organization_id: int | None = None
    ) -> list[Operator]:
        return [
            _operator(row)
            for row in sorted(self._t.operators.values(), key=lambda r: r.id)
            if row.account_id == account_id
            and (organization_id is None or row.organization_id == organization_id)
        ]

    async def operator(self, account_id: str, operator_id: int) -> Operator | None:
        row = self._t.operators.get((account_id, operator_id))
        return _operator(row) if row is not None else None

    async def synchronize_operators(
        self, account_id: str, items: Sequence[OperatorSync]
    ) -> list[Operator]:
        if account_id not in self._t.accounts:
            raise NotFound("account", account_id)
        for item in items:
            self._own_organization(account_id, item.organization_id)
        rows = self._t.operators
        taken = {i for (a, i) in rows if a == account_id}
        taken |= {item.id for item in items if item.id is not None}
        now = self._clock.now_ms()
        result = []
        for item in items:
            operator_id = item.id
            if operator_id is None:
                operator_id = next_operator_id(taken)
                taken.add(operator_id)
            row = rows.get((account_id, operator_id))
            if row is None:
                row = rows[(account_id, operator_id)] = OperatorRow(
                    account_id=account_id,
                    id=operator_id,
                    organization_id=item.organization_id,
                    name=item.name,
                    status=int(OperatorStatus.ACTIVE),
                    created_at=now,
                    updated_at=now,
                )
            else:
                row.organization_id = item.organization_id
                row.name = item.name
                row.updated_at = now
            result.append(_operator(row))
        return result

    def _own_organization(self, account_id: str, organization_id: int) -> None:
        row = self._t.organizations.get(organization_id)
        if row is None or row.account_id != account_id:
            raise NotFound("organization", organization_id)
