"""Shared fixtures: a small, valid content folder that tests can break on purpose."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import REPO_ROOT
from bot.db import create_engine, sqlite_file, upgrade
from bot.languages import parse_languages
from tests.helpers import REAL_CONTENT, migrated_sqlite

# The real content's full languages (every topic): what parity and conversation tests walk.
FULL_LANGUAGES = parse_languages((REAL_CONTENT / "languages.yaml").read_text("utf-8"))[0].full

TOPIC = """\
---
title: {title}
{parent}order: {order}
keywords: [{keywords}]
reviewed: 2026-11-01
sources:
  - "Test source, 2026"
{extra}---
{body}
"""

LANGUAGES = """\
ky: {name: "Кыргызча", state: full}
ru: {name: "Русский", state: full}
"""

CONTACTS = """\
countries:
  KG: {ru: Кыргызстан, ky: Кыргызстан}
  RU: {ru: Россия, ky: Орусия}
contacts:
  - id: kg-112
    country: KG
    phone: "112"
    name: {ru: "Служба спасения", ky: "Куткаруу кызматы"}
    verified_on: 2026-11-01
    source: "GOV.UK FCDO, Kyrgyzstan (stored 2026-01-10)"
    status: verified
  - id: ru-iom
    country: RU
    phone: "8 800 333-00-16"
    name: {ru: "Горячая линия МОМ", ky: "ЭМУнун ишеним телефону"}
    verified_on: 2026-11-01
    source: "IOM Russia, undated"
    status: unverified
"""


SELFCHECK = """\
destinations:
  - id: ru
    name: {ru: "Россия", ky: "Орусия"}
  - id: tr
    name: {ru: "Турция", ky: "Түркия"}
scoring: {dont_know: 0.5, dont_know_up_to: low}
questions:
  - id: fee
    applies_to: all
    weight: 3
    risky: yes
    strong: yes
    ask: {ru: "Просят деньги вперёд?", ky: "Алдын ала акча сурашабы?"}
    ask_family: {ru: "Родственника просят деньги вперёд?", ky: "Тууганыңыздан акча сурашабы?"}
    why: {ru: "Плата вперёд — признак обмана.", ky: "Алдын ала төлөм — алдамчылыктын белгиси."}
    sources: ["Test source"]
  - id: visa
    except: [ru]
    weight: 2
    risky: no
    ask: {ru: "Есть рабочая виза?", ky: "Жумушчу виза барбы?"}
    ask_family: {ru: "У родственника есть рабочая виза?", ky: "Тууганыңызда жумушчу виза барбы?"}
    why: {ru: "Туристом работать нельзя.", ky: "Турист катары иштөөгө болбойт."}
    sources: ["Test source"]
levels:
  - id: high
    min_score: 3
    title: {ru: "Высокий риск", ky: "Жогорку тобокелдик"}
    advice: {ru: "Не езжайте.", ky: "Барбаңыз."}
    advice_family: {ru: "Отговорите родственника.", ky: "Тууганыңызды токтотуңуз."}
  - id: low
    min_score: 0
    title: {ru: "Низкий риск", ky: "Төмөн тобокелдик"}
    advice: {ru: "Всё равно проверьте.", ky: "Баары бир текшериңиз."}
    advice_family: {ru: "Проверьте вместе.", ky: "Чогуу текшериңиз."}
next_steps: [hotlines]
cases:
  - name: fee alone
    destination: ru
    answers: {fee: yes}
    expect: high
  - name: legal worker to Turkey
    destination: tr
    expect: low
"""


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: two workers more than cores. Many tests spend their time waiting on the
    processes they start (`jol run`, the stand-in, Chromium, HAProxy, PostgreSQL) rather than
    computing, and the extra workers fill those waits: on a 2-core machine the suite took
    112 s with 2 workers, 95 s with 3 and 92 s with 4."""
    return len(os.sched_getaffinity(0)) + 2


def write_topic(root: Path, lang: str, topic_id: str, *, title: str, body: str,
                parent: str = "main", order: int = 10, keywords: str = "",
                extra: str = "") -> Path:
    path = root / lang / f"{topic_id}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TOPIC.format(
        title=title, parent=f"parent: {parent}\n" if parent else "", order=order,
        keywords=keywords, extra=extra, body=textwrap.dedent(body).strip(),
    ), encoding="utf-8")
    return path


@pytest.fixture
def small_content(tmp_path: Path) -> Path:
    """Two sections, five topics, both languages, two contacts, a two-question self-check."""
    root = tmp_path / "content"
    (root / "ky").mkdir(parents=True)
    (root / "ru").mkdir(parents=True)
    (root / "languages.yaml").write_text(LANGUAGES, encoding="utf-8")
    (root / "contacts.yaml").write_text(CONTACTS, encoding="utf-8")
    (root / "selfcheck.yaml").write_text(SELFCHECK, encoding="utf-8")
    for lang, danger, passport, help_title in (
        ("ru", "Опасные признаки", "Забрали паспорт", "Куда звонить"),
        ("ky", "Коркунучтуу белгилер", "Паспортту алып коюшту", "Кайда чалуу керек"),
    ):
        write_topic(root, lang, "danger", title=danger, order=10, keywords="обман, алдамчылык",
                    body="Как узнать обман.")
        write_topic(root, lang, "help", title=help_title, order=20, keywords="помощь, жардам",
                    body="Телефоны помощи.")
        write_topic(root, lang, "passport-taken", title=passport, parent="danger",
                    keywords="паспорт, документы, pasport",
                    body="""
                    Работодатель **не имеет права** забирать паспорт.

                    - Сделайте копию.
                    - Позвоните на _горячую линию_.
                    """)
        write_topic(root, lang, "hotlines", title=help_title + "!", parent="help",
                    keywords="телефон, горячая линия, ишеним", body="Звоните.",
                    extra="contacts: [kg-112, ru-iom]\n")
        write_topic(root, lang, "sos", title="SOS", parent="help", order=5,
                    keywords="sos, помогите, жардам", body="Звоните 112.",
                    extra="contacts: [kg-112]\n")
        write_topic(root, lang, "phone-safety", title="Телефон", parent="help", order=30,
                    keywords="телефон", body="Удалите чат.", extra="actions: [clear-chat]\n")
    return root


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    """A writable copy of the real content folder."""
    target = tmp_path / "real-content"
    shutil.copytree(REAL_CONTENT, target)
    return target


# --- PostgreSQL: a fresh database per test, dropped afterwards ---
PG_URL = os.environ.get("JOL_TEST_POSTGRES_URL",
                        "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def _pg_admin(*statements: str) -> None:
    """Run admin SQL on its own loop in a thread, outside the test's event loop."""
    async def run() -> None:
        dsn = make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)
        conn = await asyncpg.connect(dsn, timeout=5)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    name = f"jol_test_{secrets.token_hex(6)}"
    try:
        _pg_admin(f'CREATE DATABASE "{name}"')
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        host = make_url(PG_URL).host
        reason = f"PostgreSQL at {host} unusable ({type(error).__name__}: {error})"
        if os.environ.get("JOL_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason}; JOL_REQUIRE_POSTGRES=1 requires it")
        pytest.skip(f"{reason}; set JOL_TEST_POSTGRES_URL, or JOL_REQUIRE_POSTGRES=1 to fail")
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'db' / 'jol.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """The database at the newest schema: SQLite as a copy of one migrated file."""
    database = sqlite_file(database_url)
    if database is None:
        await upgrade(database_url)
    else:
        await migrated_sqlite(database)
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


def run_together(script: str, *args: str, processes: int) -> list[tuple[int, str]]:
    """Run `python -c script *args` in several processes released at the same moment.

    Each script prints "ready", waits for a line on stdin, then works; returns (exit code,
    stderr) per process. Processes still running at the end are killed.
    """
    workers = [
        subprocess.Popen([sys.executable, "-c", script, *args], cwd=REPO_ROOT,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
        for _ in range(processes)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready"
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        results = []
        for worker in workers:
            _, stderr = worker.communicate(timeout=120)
            results.append((worker.returncode, stderr))
        return results
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
