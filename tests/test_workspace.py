"""The editors' workspace over HTTP (aiohttp's test client against the app bot/web.py builds):
sign-in by a one-time link, sessions and CSRF, the preview, drafts, review and publishing."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.web import build_web_app
from bot.workspace import auth
from tests.helpers import Harness, running_bot

EDITOR, REVIEWER = 11, 22
PUBLIC = "http://editors.example.org"  # https makes the cookie Secure: tested on its own
# Publishing needs content versions (bot/content/versions.py, branch h-versions): until that
# is merged and bot/workspace/versions.py uses it, these tests do not run.
needs_versions = pytest.mark.skipif(
    __import__("importlib.util").util.find_spec("bot.content.versions") is None,
    reason="needs bot.content.versions (h-versions)")


@asynccontextmanager
async def workspace(tmp_path: Path, **env: str) -> AsyncIterator[tuple[Harness, TestClient]]:
    env = {"JOL_PUBLIC_URL": PUBLIC, **env}
    async with running_bot(tmp_path, admin_ids=f"{EDITOR},{REVIEWER}", **env) as bot:
        client = TestClient(TestServer(build_web_app(bot.services, None)))
        await client.start_server()
        try:
            yield bot, client
        finally:
            await client.close()


async def link_from_bot(bot: Harness, editor: int) -> str:
    message = await bot.user(user_id=editor, first_name="Айгуль").send("/workspace")
    found = re.search(r"https?://editors\.example\.org/workspace/login\?t=(\S+)", message.text)
    assert found, message.text
    return found[1]


async def sign_in(client: TestClient, token: str) -> str:
    """Open the link, press "Войти"; the page's CSRF token."""
    opened = await client.get("/workspace/login", params={"t": token})
    assert opened.status == 200
    assert "Войти" in await opened.text()
    signed = await client.post("/workspace/login", data={"t": token}, allow_redirects=False)
    assert signed.status == 303, await signed.text()
    home = await client.get("/workspace/")
    assert home.status == 200
    return csrf_of(await home.text())


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page[:500]
    return found[1]


async def test_a_link_from_the_bot_signs_an_editor_in_once(tmp_path: Path) -> None:
    async with workspace(tmp_path) as (bot, client):
        token = await link_from_bot(bot, EDITOR)
        csrf = await sign_in(client, token)
        cookie = client.session.cookie_jar.filter_cookies(client.make_url("/workspace/"))
        assert "jol_ws" in cookie
        home = await (await client.get("/workspace/")).text()
        assert "Айгуль" in home and "Россия" in home  # the editor, and the menu tree
        # Used: refused, with a page that says so, on a fresh browser too.
        other = TestClient(TestServer(build_web_app(bot.services, None)))
        await other.start_server()
        try:
            again = await other.post("/workspace/login", data={"t": token})
            assert again.status == 410
            assert "уже использована" in await again.text()
        finally:
            await other.close()
        out = await client.post("/workspace/logout", data={"csrf": csrf})
        assert out.status == 200
        assert (await client.get("/workspace/")).status == 401


async def test_the_session_cookie_is_httponly_strict_and_secure_on_https(
        tmp_path: Path) -> None:
    async with workspace(tmp_path, JOL_PUBLIC_URL="https://editors.example.org") as (
            bot, client):
        token = await link_from_bot(bot, EDITOR)
        signed = await client.post("/workspace/login", data={"t": token},
                                   allow_redirects=False)
        cookie = signed.headers["Set-Cookie"]
        assert cookie.startswith("jol_ws=")
        for attribute in ("HttpOnly", "SameSite=Strict", "Secure", "Path=/workspace",
                          f"Max-Age={8 * 3600}"):
            assert attribute in cookie
        stored = [row async for row in _session_rows(bot)]
        session = cookie.split(";")[0].split("=", 1)[1]
        assert stored and session not in str(stored)  # only its hash is kept
        assert auth.token_hash(session) in str(stored)


async def _session_rows(bot: Harness) -> AsyncIterator[tuple[object, ...]]:
    from sqlalchemy import text

    async with bot.services.engine.connect() as connection:
        for row in await connection.execute(text("SELECT * FROM workspace_sessions")):
            yield tuple(row)


async def test_forged_expired_and_non_editor_links_are_refused_with_a_page(
        tmp_path: Path) -> None:
    async with workspace(tmp_path) as (bot, client):
        token = await link_from_bot(bot, EDITOR)
        payload, _, signature = token.partition(".")
        forged = payload[:-2] + ("AA" if not payload.endswith("AA") else "BB") + "." + signature
        for bad in (forged, "nonsense", "", token + "x"):
            answer = await client.get("/workspace/login", params={"t": bad})
            assert answer.status == 400
            text = await answer.text()
            assert "ссылка для входа неверна" in text and "Traceback" not in text
        key = bot.services.workspace_key
        expired = auth.make_link_token(key, EDITOR, "x", now=time.time() - 11 * 60)
        answer = await client.post("/workspace/login", data={"t": expired})
        assert answer.status == 410 and "истёк" in await answer.text()
        stranger = auth.make_link_token(key, 999, "x")
        assert (await client.post("/workspace/login", data={"t": stranger})).status == 403
        other_key = auth.make_link_token(auth.workspace_key(b"another secret"), EDITOR, "x")
        assert (await client.post("/workspace/login", data={"t": other_key})).status == 400


async def test_sign_in_is_rate_limited_and_recorded_in_the_audit_log(tmp_path: Path) -> None:
    from sqlalchemy import text

    async with workspace(tmp_path) as (bot, client):
        token = await link_from_bot(bot, EDITOR)
        await sign_in(client, token)  # two attempts (the page, the button)
        for _ in range(8):
            await client.post("/workspace/login", data={"t": "forged.link"})
        answer = await client.post("/workspace/login", data={"t": "forged.link"})
        assert answer.status == 429 and "Подождите минуту" in await answer.text()
        async with bot.services.engine.connect() as connection:
            rows = (await connection.execute(text(
                "SELECT editor_id, editor_name, action FROM workspace_audit"))).all()
        assert [tuple(r) for r in rows] == [(EDITOR, "Айгуль", "sign-in")]


async def test_without_public_url_the_bot_points_to_the_command(tmp_path: Path) -> None:
    async with running_bot(tmp_path, admin_ids=str(EDITOR)) as bot:
        message = await bot.user(user_id=EDITOR).send("/workspace")
        assert f"jol workspace link --editor {EDITOR}" in message.text
        stranger = await bot.user(user_id=5).send("/workspace")
        assert "jol workspace" not in stranger.text  # an unknown command to anyone else


async def test_no_change_without_session_and_csrf(tmp_path: Path) -> None:
    async with workspace(tmp_path) as (bot, client):
        data = {"title_ru": "Взлом", "csrf": "x"}
        assert (await client.post("/workspace/topic/russia", data=data)).status == 401
        csrf = await sign_in(client, await link_from_bot(bot, EDITOR))
        assert (await client.post("/workspace/topic/russia", data=data)).status == 403
        no_token = {"title_ru": "Взлом"}
        assert (await client.post("/workspace/topic/russia", data=no_token)).status == 403
        foreign = await client.post("/workspace/topic/russia", data={**data, "csrf": csrf},
                                    headers={"Origin": "https://evil.example"})
        assert foreign.status == 403
        preview = await client.post("/workspace/preview", json={
            "topic": "russia", "lang": "ru", "fields": {}})
        assert preview.status == 403  # JSON too needs the token (header)
        page = await (await client.get("/workspace/topic/russia")).text()
        assert "Взлом" not in page


async def test_every_answer_carries_the_strict_headers(tmp_path: Path) -> None:
    async with workspace(tmp_path) as (_, client):
        for path in ("/workspace/", "/workspace/login?t=x", "/workspace/static/workspace.css",
                     "/workspace/nothing"):
            answer = await client.get(path)
            assert answer.headers["Content-Security-Policy"].startswith("default-src 'self'")
            assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
            assert answer.headers["X-Content-Type-Options"] == "nosniff"
            assert answer.headers["Referrer-Policy"] == "same-origin"
        css = await client.get("/workspace/static/workspace.css")
        assert css.status == 200 and "bubble" in await css.text()


async def test_preview_shows_a_script_and_a_javascript_link_as_text(tmp_path: Path) -> None:
    async with workspace(tmp_path) as (bot, client):
        csrf = await sign_in(client, await link_from_bot(bot, EDITOR))
        body = ("<script>alert(1)</script> **жирный** [ссылка](javascript:alert(1)) "
                "[сайт](https://mfa.gov.kg)")
        answer = await client.post("/workspace/preview", headers={"X-CSRF-Token": csrf},
                                   json={"topic": "russia", "lang": "ru",
                                         "fields": {"title_ru": "Россия", "body_ru": body}})
        assert answer.status == 200
        shown = (await answer.json())["screens"][0]["html"]
        assert "<script" not in shown and "&lt;script&gt;alert(1)&lt;/script&gt;" in shown
        assert 'href="javascript' not in shown and "[ссылка](javascript:alert(1))" in shown
        assert "<b>жирный</b>" in shown
        assert '<a href="https://mfa.gov.kg" rel="noopener noreferrer"' in shown
        # Saved without JS, the page shows it the same way (autoescaped everywhere else).
        saved = await client.post("/workspace/topic/russia",
                                  data={"csrf": csrf, "title_ru": "<i>Россия</i>",
                                        "body_ru": body})
        page = await saved.text()
        assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "&lt;i&gt;Россия&lt;/i&gt;" in page


async def test_every_page_renders_for_a_signed_in_editor(tmp_path: Path) -> None:
    async with workspace(tmp_path) as (bot, client):
        await sign_in(client, await link_from_bot(bot, EDITOR))
        for path, expected in (
                ("/workspace/", 'href="/workspace/topic/russia"'),
                ("/workspace/topic/russia", 'id="title_ky"'),
                ("/workspace/contact/kg-112", 'id="phone"'),
                ("/workspace/selfcheck", 'id="selfcheck"'),
                ("/workspace/new", 'id="title_ru"'),
                ("/workspace/stale", "Неподтверждённые телефоны"),
                ("/workspace/history", "Журнал действий")):
            answer = await client.get(path)
            page = await answer.text()
            assert answer.status == 200, (path, page[:300])
            assert expected in page, path
            # Every field has its label, and its problems' place.
            for name in re.findall(r'<(?:input|textarea|select) id="([^"]+)"', page):
                assert f'<label for="{name}">' in page, (path, name)
        kyrgyz = await client.get("/workspace/lang/ky", params={"back": "/workspace/stale"})
        assert "Ырасталбаган телефондор" in await kyrgyz.text()
        assert (await client.get("/workspace/topic/no-such-topic")).status == 404


async def test_a_bad_phone_is_shown_at_its_field_and_blocks_publishing(tmp_path: Path) -> None:
    async with workspace(tmp_path, JOL_REVIEW_REQUIRED="off") as (bot, client):
        csrf = await sign_in(client, await link_from_bot(bot, EDITOR))
        live = await client.post("/workspace/phone", headers={"X-CSRF-Token": csrf},
                                 json={"phone": "+996 12", "country": "KG"})
        assert (await live.json())["ok"] is False
        good = await client.post("/workspace/phone", headers={"X-CSRF-Token": csrf},
                                 json={"phone": "0 312 66 34 05", "country": "KG"})
        assert (await good.json()) == {"ok": True,
                                       "shown": "Номер будет показан так: +996 312 663 405"}
        form = await (await client.get("/workspace/contact/kg-112")).text()
        fields = dict(re.findall(r'<input id="([^"]+)" name="[^"]+" type="[^"]+" value="([^"]*)"',
                                 form))
        saved = await client.post("/workspace/contact/kg-112", data={
            **fields, "phone": "+996 12", "status": "verified", "source": "x", "csrf": csrf})
        page = await saved.text()
        problem = re.search(r'<div id="problem-phone" class="problem" role="alert">(.*?)</div>',
                            page, re.S)
        assert problem and "+996 12" in problem[1], page
        draft_id = re.search(r"/workspace/drafts/(\d+)", page)
        assert draft_id
        draft = await (await client.get(f"/workspace/drafts/{draft_id[1]}")).text()
        assert "disabled" in draft and 'id="problem-publish"' in draft
        assert "+996 12" in draft  # the change, field by field
        refused = await client.post(f"/workspace/drafts/{draft_id[1]}/publish",
                                    data={"csrf": csrf, "confirm": "yes"})
        assert refused.status == 422


@asynccontextmanager
async def versioned_bot(tmp_path: Path, **env: str) -> AsyncIterator[tuple[Harness, TestClient]]:
    """A bot serving the published content version from its database (seeded from content/),
    as `jol run` does, with the workspace beside it."""
    from bot.app import build_application
    from bot.db import create_engine
    from bot.fake_telegram import LocalRequest
    from bot.services import open_services
    from bot.settings import Settings
    from tests.helpers import ButtonCheckingTelegram, migrated_sqlite

    settings = Settings.from_env({
        "JOL_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'jol.sqlite3'}",
        "JOL_SECRET": "test-secret", "JOL_ADMIN_IDS": f"{EDITOR},{REVIEWER}",
        "JOL_STATS_FLUSH_SECONDS": "3600", "JOL_CONTENT_SOURCE": "database",
        "JOL_CONTENT_POLL_SECONDS": "3600", "JOL_PUBLIC_URL": PUBLIC, **env})
    engine = create_engine(await migrated_sqlite(tmp_path / "jol.sqlite3"))
    telegram = ButtonCheckingTelegram()
    try:
        async with open_services(settings, engine=engine) as services:
            application = build_application(services, request=LocalRequest(telegram),
                                            rate_limiter=False)
            async with application:
                bot = Harness(telegram, application, services)
                client = TestClient(TestServer(build_web_app(services, None)))
                await client.start_server()
                try:
                    yield bot, client
                finally:
                    await client.close()
    finally:
        await engine.dispose()


async def edit_topic(client: TestClient, csrf: str, topic: str, **changes: str) -> str:
    """Post the topic's form as the page shows it, with `changes`; the page after saving."""
    page = await (await client.get(f"/workspace/topic/{topic}")).text()
    fields = dict(re.findall(r'<input id="([^"]+)" name="[^"]+" type="[^"]+" value="([^"]*)"',
                             page))
    fields.update({name: html_unescape(value) for name, value in re.findall(
        r'<textarea id="([^"]+)" name="[^"]+" rows="\d+"[^>]*>(.*?)</textarea>', page, re.S)})
    fields = {k: html_unescape(v) for k, v in fields.items()}
    saved = await client.post(f"/workspace/topic/{topic}",
                              data={**fields, **changes, "csrf": csrf})
    assert saved.status == 200
    return await saved.text()


def html_unescape(text: str) -> str:
    import html

    return html.unescape(text)


@needs_versions
async def test_draft_review_publish_reaches_the_bot_and_rollback_restores(
        tmp_path: Path) -> None:
    async with versioned_bot(tmp_path) as (bot, client):
        user = bot.user()
        await user.send("/start")
        assert "Новый абзац от редакции." not in await open_topic_as_user(bot, user, "russia")
        author = await sign_in(client, await link_from_bot(bot, EDITOR))
        page = await edit_topic(client, author, "russia", body_ru=(
            "Новый абзац от редакции.\n\nГражданам Кыргызстана **патент не нужен**."))
        draft = re.search(r"/workspace/drafts/(\d+)", page)
        assert draft
        url = f"/workspace/drafts/{draft[1]}"
        # The author cannot publish alone: review is on with two editors.
        assert (await client.post(f"{url}/publish", data={"csrf": author})).status == 403
        submitted = await client.post(f"{url}/submit", data={"csrf": author,
                                                             "note": "Новый абзац"})
        assert submitted.status == 200
        # The reviewer, in another browser, sees the change per field and language.
        reviewer_client = TestClient(TestServer(client.server.app))
        await reviewer_client.start_server()
        try:
            reviewer = await sign_in(reviewer_client, await link_from_bot(bot, REVIEWER))
            review = await (await reviewer_client.get(url)).text()
            assert "Новый абзац от редакции." in review and "body (ru)" in review
            published = await reviewer_client.post(f"{url}/publish", data={"csrf": reviewer})
            assert published.status == 200, await published.text()
            assert "Опубликовано: версия 2" in await published.text()
        finally:
            await reviewer_client.close()
        topic = bot.services.content.snapshot.topic("ru", "russia")
        assert topic is not None and "Новый абзац от редакции." in topic.pages[0]
        shown = await open_topic_as_user(bot, user, "russia")
        assert "Новый абзац от редакции." in shown
        # History: both versions with who and the note; roll back to the seed.
        history = await (await client.get("/workspace/history")).text()
        assert "Новый абзац" in history and "Айгуль" in history
        rolled = await client.post("/workspace/history/1/rollback", data={"csrf": author})
        assert rolled.status == 200 and "версия 3" in (await rolled.text()).lower()
        assert "Новый абзац от редакции." not in await open_topic_as_user(bot, user, "russia")


async def open_topic_as_user(bot: Harness, user: object, topic: str) -> str:
    """What a user sees opening the topic by its deep link, as the bot serves it now."""
    from bot.fake_telegram import LocalUser

    assert isinstance(user, LocalUser)
    return (await user.send(f"/start {topic}")).text


@needs_versions
async def test_a_single_editor_publishes_after_confirming_and_stale_drafts_must_rebase(
        tmp_path: Path) -> None:
    async with versioned_bot(tmp_path, JOL_ADMIN_IDS=str(EDITOR)) as (bot, client):
        csrf = await sign_in(client, await link_from_bot(bot, EDITOR))
        first = await edit_topic(client, csrf, "russia", title_ru="Россия 2027")
        first_id = re.search(r"/workspace/drafts/(\d+)", first)
        assert first_id
        url = f"/workspace/drafts/{first_id[1]}"
        # A second draft of the same editor, made on the same version (another browser tab
        # would do the same): publish the first, and the second is stale.
        page = await (await client.get(url)).text()
        assert "Я проверил(а) изменения сам(а)" in page
        unconfirmed = await client.post(f"{url}/publish", data={"csrf": csrf})
        assert unconfirmed.status == 422
        from bot.workspace.store import Editor, WorkspaceStore

        rows = WorkspaceStore(bot.services.engine)
        other = await rows.create_draft(Editor(EDITOR, "Айгуль"), "1")
        await rows.update_draft(other, files={"ru/russia.md": "---\ntitle: Другая\n---\nтекст\n"})
        published = await client.post(f"{url}/publish", data={"csrf": csrf, "confirm": "yes"})
        assert published.status == 200 and "версия 2" in await published.text()
        stale = await (await client.get(f"/workspace/drafts/{other}")).text()
        assert "опубликована версия 2" in stale and "Перенести на новую версию" in stale
        refused = await client.post(f"/workspace/drafts/{other}/publish",
                                    data={"csrf": csrf, "confirm": "yes"})
        assert refused.status == 409
        rebased = await client.post(f"/workspace/drafts/{other}/rebase", data={"csrf": csrf})
        assert "ru/russia.md" in await rebased.text()  # changed on both sides: compare
        assert (await rows.draft(other)).base_version == "2"  # type: ignore[union-attr]
