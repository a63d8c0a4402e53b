"""Flash-call codes: stored with the call's result, checked by `POST /api/verify`."""

from __future__ import annotations

import hmac

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cascade.domain.delivery import Verdict
from cascade.store import schema as t
from cascade.store.sql.database import Database


class Verification(Database):
    async def verify_code(self, account_id: str, message_id: str, hashed: str) -> Verdict:
        """Check a flash-call code's hash: OK, WRONG, EXHAUSTED, EXPIRED or UNKNOWN.

        A wrong code uses up one attempt; once none are left even the right code fails.
        Every guess takes its attempt first, in one conditional UPDATE that holds the row
        until the end of the transaction, so parallel guesses (PostgreSQL) are judged one
        at a time and never more than the attempts allowed; the right code then gives its
        attempt back. Only a guess that got no attempt reads why.
        """
        v = t.verifications.c
        m = t.messages.c
        now = self._clock.now_ms()
        mine = sa.exists().where(m.id == v.message_id, m.account_id == account_id)
        take = (
            t.verifications.update()
            .where(
                v.message_id == message_id,
                mine,
                v.verified_at.is_(None),
                v.attempts_left > 0,
                v.expires_at > now,
            )
            .values(attempts_left=v.attempts_left - 1)
            .returning(v.code_hash, v.attempts_left)
        )
        read = sa.select(v.code_hash, v.attempts_left, v.expires_at, v.verified_at).where(
            v.message_id == message_id, mine
        )
        async with self._write() as conn:
            # a second round only when the code was replaced between the two statements
            for _ in range(3):
                taken = (await conn.execute(take)).first()
                if taken is not None:
                    stored, left = taken
                    if hmac.compare_digest(stored, hashed):
                        await conn.execute(
                            t.verifications.update()
                            .where(v.message_id == message_id)
                            .values(verified_at=now, attempts_left=v.attempts_left + 1)
                        )
                        return Verdict.OK
                    return Verdict.WRONG if left > 0 else Verdict.EXHAUSTED
                row = (await conn.execute(read)).first()
                if row is None:
                    return Verdict.UNKNOWN
                stored, left, expires_at, verified_at = row
                if verified_at is not None:
                    return Verdict.OK if hmac.compare_digest(stored, hashed) else Verdict.WRONG
                if left <= 0:
                    return Verdict.EXHAUSTED
                if now >= expires_at:
                    return Verdict.EXPIRED
            return Verdict.UNKNOWN

    def _set_verification(
        self, conn: Connection, message_id: str, hashed: str, attempts: int, expires: int
    ) -> None:
        v = t.verifications.c
        conn.execute(t.verifications.delete().where(v.message_id == message_id))
        conn.execute(
            t.verifications.insert().values(
                message_id=message_id,
                code_hash=hashed,
                attempts_left=attempts,
                expires_at=expires,
            )
        )
