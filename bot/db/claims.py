"""Each Telegram update handled once across webhook replicas, with nothing but its update_id.

Telegram retries a webhook delivery that failed or timed out, and the balancer may send the
retry to another replica. Before handling an update a replica claims it in PostgreSQL with a
lease; another replica that gets the same update meanwhile answers 503 (Telegram tries again
later), and after the update is done answers 200 without handling it. A replica that dies
mid-update stops renewing its leases; once one runs out, Telegram's next retry is handled by
whichever replica it reaches.

The counts an update makes are written in the same statement that marks it done, before
Telegram gets its 200 (bot/web.py): a retry after a crash neither loses nor repeats a count.
Concurrent updates share these writes (group commit: one statement for every update that
finished while the previous write ran), so the cost per update falls as the load rises.

What no design can close: a replica killed between Telegram accepting its answer and the done
mark (about a millisecond) answers that update twice when it is retried. Twice is the lesser
harm: the other choice, marking done before answering, loses the answer.

Done claims are deleted after `KEEP_DONE_SECONDS`: Telegram redelivers only what failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Awaitable, Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.batching import GroupCommit
from bot.db.engine import HeldConnection
from bot.stats.recorder import CounterRow

log = logging.getLogger(__name__)

LEASE_SECONDS = 10.0  # a replica that died mid-update delays its retry by at most this
KEEP_DONE_SECONDS = 600.0
PURGE_SECONDS = 60.0  # how often old claims are deleted (a scan of the table)
NOW = "EXTRACT(EPOCH FROM clock_timestamp())"  # the database's clock: replicas' clocks differ

# The hot path's statements, run on asyncpg's own connection (HeldConnection.driver): each
# is one round trip that commits by itself, prepared once per connection by asyncpg.
# One statement for a batch of claims: each id is MINE (claimed now) or found done; neither
# is BUSY. The second SELECT sees the table as before the INSERT, which leaves done rows alone.
CLAIM = f"""
WITH claimed AS (
    INSERT INTO update_claims (update_id, lease_until, done)
    SELECT id, {NOW} + $2::float8, false FROM unnest($1::bigint[]) AS id
    ON CONFLICT (update_id) DO UPDATE SET lease_until = EXCLUDED.lease_until
    WHERE update_claims.lease_until < {NOW} AND NOT update_claims.done
    RETURNING update_id)
SELECT update_id, true AS mine FROM claimed
UNION ALL
SELECT update_id, false FROM update_claims WHERE update_id = ANY($1::bigint[]) AND done"""
# The done marks and the counts made meanwhile (bot.stats.recorder.CounterRow) in one
# statement: they commit together or not at all. PostgreSQL runs the WITH part whether or not
# the INSERT reads it.
MARK_DONE_AND_COUNT = """
WITH marked AS (
    UPDATE update_claims SET done = true WHERE update_id = ANY($1::bigint[]))
INSERT INTO counters (day, event, key, lang, source, count)
SELECT * FROM unnest($2::date[], $3::varchar[], $4::varchar[], $5::varchar[], $6::varchar[],
                     $7::bigint[])
ON CONFLICT (day, event, key, lang, source)
    DO UPDATE SET count = counters.count + EXCLUDED.count"""


class Claim(enum.Enum):
    MINE = "mine"  # handle it
    BUSY = "busy"  # another replica handles it now: ask Telegram to retry later
    DONE = "done"  # already handled: acknowledge, do nothing


class UpdateClaims:
    """Claims, lease renewal and done marks for one replica (PostgreSQL only)."""

    def __init__(self, engine: AsyncEngine,
                 finish_writes: Callable[[Callable[[list[CounterRow]], Awaitable[object]]],
                                         Awaitable[object]],
                 lease_seconds: float = LEASE_SECONDS) -> None:
        self._engine = engine
        # Each statement here is atomic alone: it commits by itself, one round trip without a
        # BEGIN and a COMMIT around it.
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        # The claims and the done marks come in batches, one at a time each: a connection kept
        # for each spares a pool checkout and ping per batch.
        self._claiming = HeldConnection(self._autocommit)
        self._marking = HeldConnection(self._autocommit)
        # The languages' flush, then the counts handed to a write that adds the done marks
        # (bot.context.Services.write_pending).
        self._finish_writes = finish_writes
        self.lease_seconds = lease_seconds
        self._held: set[int] = set()  # claimed here, not yet done: their leases are renewed
        self._claims: GroupCommit[int, Claim] = GroupCommit(self._claim_batch)
        self._dones: GroupCommit[int, None] = GroupCommit(self._done_batch)
        self._renewer: asyncio.Task[None] | None = None

    async def claim(self, update_id: int) -> Claim:
        result = await self._claims.submit(update_id)
        if result is Claim.MINE:
            self._held.add(update_id)
        return result

    async def done(self, update_id: int) -> None:
        """Write the counts made so far and mark the update done, before Telegram's 200."""
        try:
            await self._dones.submit(update_id)
        finally:
            self._held.discard(update_id)

    async def _claim_batch(self, ids: list[int]) -> list[Claim]:
        async with self._claiming.driver() as pg:
            rows = await pg.fetch(CLAIM, sorted(set(ids)), self.lease_seconds)
        mine = {row[0] for row in rows if row[1]}
        done = {row[0] for row in rows if not row[1]}
        results = []
        for update_id in ids:
            if update_id in mine:
                mine.discard(update_id)  # the same update twice in one batch: once is mine
                results.append(Claim.MINE)
            else:
                results.append(Claim.DONE if update_id in done else Claim.BUSY)
        return results

    async def _done_batch(self, ids: list[int]) -> list[None]:
        async def mark_done_and_count(rows: list[CounterRow]) -> None:
            columns: list[Sequence[object]] = (list(zip(*rows, strict=True)) if rows
                                               else [()] * len(CounterRow._fields))
            async with self._marking.driver() as pg:
                await pg.execute(MARK_DONE_AND_COUNT, sorted(set(ids)), *columns)

        await self._finish_writes(mark_done_and_count)
        return [None] * len(ids)

    async def _renew(self) -> None:
        loop = asyncio.get_running_loop()
        purged_at = loop.time()
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            purge = loop.time() - purged_at >= PURGE_SECONDS
            try:
                async with self._autocommit.connect() as conn:
                    if self._held:
                        await conn.execute(sa.text(
                            f"UPDATE update_claims SET lease_until = {NOW} + :lease "
                            "WHERE update_id = ANY(CAST(:ids AS bigint[])) AND NOT done"),
                            {"ids": sorted(self._held), "lease": self.lease_seconds})
                    if purge:
                        await conn.execute(sa.text(
                            f"DELETE FROM update_claims WHERE lease_until < {NOW} - :keep"),
                            {"keep": KEEP_DONE_SECONDS})
                        purged_at = loop.time()
            except Exception as error:  # the database is away: the leases may run out
                log.warning("update claims: renewal failed (%s)", type(error).__name__)

    async def start(self) -> None:
        if self._renewer is None:
            self._renewer = asyncio.create_task(self._renew(), name="update-claims")

    async def stop(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
            self._renewer = None
        await self._claiming.close()
        await self._marking.close()
