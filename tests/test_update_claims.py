"""Update claims on PostgreSQL (bot/db/claims.py), two replicas' claims against one database:
an update is MINE for one, BUSY for the other while the first handles it, DONE once marked;
the done mark and the counts made meanwhile commit in one statement, or neither does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import create_engine, upgrade
from bot.db.claims import Claim, UpdateClaims
from bot.events import START
from bot.stats.recorder import CounterRow, StatsRecorder

DAY = date(2026, 12, 8)


@pytest.fixture
async def pg(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    await upgrade(postgres_url)
    engine = create_engine(postgres_url)
    yield engine
    await engine.dispose()


Replica = Callable[..., tuple[UpdateClaims, StatsRecorder]]


@pytest.fixture
async def replica(pg: AsyncEngine) -> AsyncIterator[Replica]:
    """Makes a replica's claims and counts on the test database; stops them afterwards."""
    made: list[UpdateClaims] = []

    def make(lease_seconds: float = 10.0) -> tuple[UpdateClaims, StatsRecorder]:
        stats = StatsRecorder(pg, today=lambda: DAY)
        made.append(UpdateClaims(pg, stats.flush_with, lease_seconds))
        return made[-1], stats

    yield make
    for claims in made:
        await claims.stop()


async def counts(engine: AsyncEngine) -> dict[tuple[str, str], int]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT event, key, count FROM counters"))
        return {(event, key): n for event, key, n in rows}


async def test_one_replica_handles_an_update_the_other_waits_then_skips_it(
        pg: AsyncEngine, replica: Replica) -> None:
    (first, first_stats), (second, _) = replica(), replica()
    assert await first.claim(101) is Claim.MINE
    assert await second.claim(101) is Claim.BUSY  # Telegram is asked to retry later
    first_stats.count(START, "osh_bus_2026")
    await first.done(101)
    assert await second.claim(101) is Claim.DONE
    assert await first.claim(101) is Claim.DONE
    assert await counts(pg) == {("start", "osh_bus_2026"): 1}


async def test_a_batch_with_the_same_update_twice_claims_it_once(replica: Replica) -> None:
    claims, _ = replica()
    results = await asyncio.gather(*(claims.claim(i) for i in (7, 7, 8)))
    assert sorted(results, key=lambda c: c.value) == [Claim.BUSY, Claim.MINE, Claim.MINE]


async def test_a_dead_replicas_lease_runs_out_and_another_takes_the_update(
        replica: Replica) -> None:
    (dead, _), (alive, _) = replica(lease_seconds=0.2), replica()
    assert await dead.claim(55) is Claim.MINE  # then it dies: no renewal, no done mark
    assert await alive.claim(55) is Claim.BUSY
    await asyncio.sleep(0.3)
    assert await alive.claim(55) is Claim.MINE


async def test_marks_and_counts_commit_together_or_neither(
        pg: AsyncEngine, replica: Replica) -> None:
    claims, stats = replica()
    assert await claims.claim(9) is Claim.MINE
    stats.count(START, "osh_bus_2026")
    async with pg.begin() as conn:  # a count the table now refuses
        await conn.execute(text("ALTER TABLE counters ADD CONSTRAINT few CHECK (count < 1)"))
    with pytest.raises(Exception, match="few"):
        await claims.done(9)
    assert await counts(pg) == {}
    assert stats.pending == 1  # back in memory for the next write
    async with pg.connect() as conn:
        done = (await conn.execute(text(
            "SELECT done FROM update_claims WHERE update_id = 9"))).scalar_one()
    assert done is False  # not marked either: a retry handles it again
    async with pg.begin() as conn:
        await conn.execute(text("ALTER TABLE counters DROP CONSTRAINT few"))
    await claims.done(9)
    assert await counts(pg) == {("start", "osh_bus_2026"): 1}
    assert await claims.claim(9) is Claim.DONE


async def test_a_database_restart_costs_one_failed_claim_then_a_new_connection(
        pg: AsyncEngine, replica: Replica) -> None:
    """The claims keep one connection (and its asyncpg connection) between batches: once the
    server drops it, the next batch fails and the one after opens another."""
    claims, _ = replica()
    assert await claims.claim(31) is Claim.MINE
    async with pg.connect() as conn:  # what a restart does to every other session
        await conn.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
    with pytest.raises(Exception):  # noqa: B017 (asyncpg's error for a closed connection)
        await claims.claim(32)
    assert await claims.claim(32) is Claim.MINE
    assert await claims.claim(31) is Claim.BUSY  # the claim made before is still there


def test_a_counter_row_is_the_columns_of_counters() -> None:
    assert CounterRow._fields == ("day", "event", "key", "lang", "source", "amount")
