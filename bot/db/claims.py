"""Each Telegram update handled once across webhook replicas, with nothing but its update_id.

Telegram retries a webhook delivery that failed or timed out, and the balancer may send the
retry to another replica. Before handling an update a replica claims it in PostgreSQL with a
lease; another replica that gets the same update meanwhile answers 503 (Telegram tries again
later), and after the update is done answers 200 without handling it. A replica that dies
mid-update stops renewing its leases; once one runs out, Telegram's next retry is handled by
whichever replica it reaches.

The counts an update makes are written in the same flush that marks it done, before Telegram
gets its 200 (bot/web.py): a retry after a crash neither loses nor repeats a count. Concurrent
updates share these writes (group commit: one statement for every update that finished while
the previous write ran), so the cost per update falls as the load rises.

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
from collections.abc import Awaitable, Callable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.db.batching import GroupCommit
from bot.db.engine import HeldConnection

log = logging.getLogger(__name__)

LEASE_SECONDS = 10.0  # a replica that died mid-update delays its retry by at most this
KEEP_DONE_SECONDS = 600.0
PURGE_SECONDS = 60.0  # how often old claims are deleted (a scan of the table)
NOW = "EXTRACT(EPOCH FROM clock_timestamp())"  # the database's clock: replicas' clocks differ

# Built once: a statement made per batch costs its construction and cache key each time.
CLAIM = sa.text(
    "INSERT INTO update_claims (update_id, lease_until, done) "
    f"SELECT id, {NOW} + :lease, false FROM unnest(CAST(:ids AS bigint[])) AS id "
    "ON CONFLICT (update_id) DO UPDATE SET lease_until = EXCLUDED.lease_until "
    f"WHERE update_claims.lease_until < {NOW} AND NOT update_claims.done "
    "RETURNING update_id")
DONE_AMONG = sa.text("SELECT update_id FROM update_claims "
                     "WHERE update_id = ANY(CAST(:ids AS bigint[])) AND done")
MARK_DONE = sa.text("UPDATE update_claims SET done = true "
                    "WHERE update_id = ANY(CAST(:ids AS bigint[]))")


class Claim(enum.Enum):
    MINE = "mine"  # handle it
    BUSY = "busy"  # another replica handles it now: ask Telegram to retry later
    DONE = "done"  # already handled: acknowledge, do nothing


class UpdateClaims:
    """Claims, lease renewal and done marks for one replica (PostgreSQL only)."""

    def __init__(self, engine: AsyncEngine,
                 finish_writes: Callable[[Callable[[AsyncConnection], Awaitable[None]],
                                          HeldConnection], Awaitable[object]],
                 lease_seconds: float = LEASE_SECONDS) -> None:
        self._engine = engine
        # Each statement here is atomic alone: it commits by itself, one round trip without a
        # BEGIN and a COMMIT around it.
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        # The claims and the done marks come in batches, one at a time each: a connection kept
        # for each spares a pool checkout and ping per batch.
        self._claiming = HeldConnection(self._autocommit)
        self._marking = HeldConnection(engine)
        # The languages' and counts' flush, the done marks written in the counts' transaction.
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
        unique = sorted(set(ids))
        async with self._claiming.begin() as conn:
            mine = set((await conn.execute(
                CLAIM, {"ids": unique, "lease": self.lease_seconds})).scalars())
            others = [i for i in unique if i not in mine]
            done = set()
            if others:
                done = set((await conn.execute(DONE_AMONG, {"ids": others})).scalars())
        results = []
        for update_id in ids:
            if update_id in mine:
                mine.discard(update_id)  # the same update twice in one batch: once is mine
                results.append(Claim.MINE)
            else:
                results.append(Claim.DONE if update_id in done else Claim.BUSY)
        return results

    async def _done_batch(self, ids: list[int]) -> list[None]:
        async def mark_done(conn: AsyncConnection) -> None:
            await conn.execute(MARK_DONE, {"ids": sorted(set(ids))})

        await self._finish_writes(mark_done, self._marking)  # in the counts' own transaction
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
