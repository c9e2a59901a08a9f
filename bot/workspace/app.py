"""The workspace's aiohttp sub-application, mounted at /workspace/ by bot/web.py.

Every page is a plain HTML form (it works without JavaScript); static/workspace.js only adds
the live preview and phone check. Every answer carries a strict CSP, nosniff and a same-origin
referrer policy;
every POST needs a session and its CSRF token, and an Origin, when sent, of this site.
Templates autoescape (Jinja2): content is untrusted, and only the preview's Telegram HTML is
let through, by bot/workspace/preview.py, after it was made safe.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

import jinja2
from aiohttp import web

from bot.buttons import TOPIC_ID_RE
from bot.content.checker_messages import translate
from bot.content.loader import PhoneError, normal_phone
from bot.content.model import ContentSnapshot, Problem
from bot.content.store import ContentError
from bot.context import Services
from bot.workspace import auth
from bot.workspace.content import Validator, errors
from bot.workspace.diff import changes
from bot.workspace.files import (
    BODY,
    CONTACT_FIELDS,
    PER_LANGUAGE,
    TopicFields,
    contact_block,
    contact_from_form,
    read_contacts,
    read_topic,
    shown_value,
    topic_from_form,
    write_contact,
    write_topic,
)
from bot.workspace.preview import preview_topic
from bot.workspace.store import (
    DISCARDED,
    DRAFT,
    OPEN_STATUSES,
    PUBLISHED,
    RETURNED,
    REVIEW,
    Draft,
    Editor,
    WorkspaceStore,
)
from bot.workspace.texts import LANGUAGES, words
from bot.workspace.versions import (
    Published,
    PublishingUnavailable,
    StaleParent,
    UnknownVersion,
    published_content,
)

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
COOKIE = "jol_ws"
LANG_COOKIE = "jol_ws_lang"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
SIGN_IN_PER_MINUTE = 10
CONTACTS, SELFCHECK = "contacts.yaml", "selfcheck.yaml"
TOPIC_FIELDS = ("title", "parent", "order", "keywords", "reviewed", "sources", "contacts",
                "related", "actions")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SERVICES: web.AppKey[Services] = web.AppKey("workspace_services", Services)
STORE: web.AppKey[WorkspaceStore] = web.AppKey("workspace_store", WorkspaceStore)
VALIDATOR: web.AppKey[Validator] = web.AppKey("workspace_validator", Validator)
PUBLISHED_KEY: web.AppKey[Published] = web.AppKey("workspace_published", Published)
EDITOR: web.RequestKey[Editor] = web.RequestKey("workspace_editor", Editor)
SESSION: web.RequestKey[str] = web.RequestKey("workspace_session", str)
ATTEMPTS: web.AppKey[defaultdict[str, deque[float]]] = web.AppKey("workspace_attempts")

_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
    undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _when(timestamp: int | float | datetime) -> str:
    if isinstance(timestamp, datetime):
        moment = timestamp if timestamp.tzinfo else timestamp.replace(tzinfo=UTC)
    else:
        moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


_templates.filters["when"] = _when


# --- the request's editor, language and page ---------------------------------------------------

def ui_lang(request: web.Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, "ru")
    return lang if lang in LANGUAGES else "ru"


def page(request: web.Request, template: str, status: int = 200, **values: Any) -> web.Response:
    lang = ui_lang(request)
    token = request.get(SESSION)
    body = _templates.get_template(template).render(
        say=words(lang), ui_lang=lang, editor=request.get(EDITOR),
        csrf=auth.csrf_token(request.app[SERVICES].workspace_key, token) if token else "",
        path=request.path, **values)
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


def message(request: web.Request, key: str, status: int, **values: Any) -> web.Response:
    """A page saying one thing; in both languages until the editor has chosen one."""
    lang = ui_lang(request)
    also = "" if LANG_COOKIE in request.cookies else words("ky")(key, **values)
    return page(request, "message.html", status, text=words(lang)(key, **values), also=also)


@web.middleware
async def security(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Headers on every answer; the session and, for any change, its CSRF token."""
    response: web.StreamResponse
    try:
        response = await _guarded(request, handler)
    except web.HTTPException as error:  # redirects and 404s, answered as plain responses
        if error.status >= 400:
            response = message(request, "not_found", error.status)
        else:
            response = web.Response(status=error.status, headers=error.headers)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    # "no-referrer" would make Chromium send `Origin: null` on every form POST, which the
    # Origin check refuses; "same-origin" still sends no referrer to any other site.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not every client sends it; the CSRF token still has to match
    public = request.app[SERVICES].settings.public_url
    allowed = {f"{request.scheme}://{request.host}"}
    if public:
        url = urlparse(public)
        allowed.add(f"{url.scheme}://{url.netloc}")
    return origin in allowed


async def _guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    services = request.app[SERVICES]
    token = request.cookies.get(COOKIE, "")
    editor = await request.app[STORE].session(token) if token else None
    if editor is not None and editor.id not in services.settings.admin_ids:
        editor = None  # removed from JOL_ADMIN_IDS: the session ends with it
    if editor is not None:
        request[EDITOR], request[SESSION] = editor, token
    public = getattr(handler, "public", False) or request.path.startswith("/workspace/static/")
    if request.method not in ("GET", "HEAD"):
        if not _same_origin(request):
            return message(request, "bad_csrf", 403)
        if not public:
            if editor is None:
                return message(request, "need_session", 401)
            given = request.headers.get("X-CSRF-Token", "")
            if not given and request.content_type in ("application/x-www-form-urlencoded",
                                                      "multipart/form-data"):
                given = str((await request.post()).get("csrf", ""))
            if not auth.csrf_matches(services.workspace_key, token, given):
                return message(request, "bad_csrf", 403)
    elif editor is None and not public:
        return message(request, "need_session", 401)
    return await handler(request)


def public(handler: Handler) -> Handler:
    handler.public = True  # type: ignore[attr-defined]
    return handler


def editor_of(request: web.Request) -> Editor:
    return request[EDITOR]


# --- sign-in -------------------------------------------------------------------------------------

def _rate_limited(request: web.Request) -> bool:
    attempts = request.app[ATTEMPTS][request.remote or "?"]
    now = time.monotonic()
    while attempts and attempts[0] < now - 60:
        attempts.popleft()
    attempts.append(now)
    return len(attempts) > SIGN_IN_PER_MINUTE


def _claim(request: web.Request, token: str) -> auth.LinkClaim | web.Response:
    if _rate_limited(request):
        return message(request, "too_many", 429)
    try:
        claim = auth.read_link_token(request.app[SERVICES].workspace_key, token)
    except auth.LinkRefused as refused:
        return message(request, f"link_{refused.reason}", 410 if refused.reason == "expired"
                       else 400)
    if claim.editor_id not in request.app[SERVICES].settings.admin_ids:
        return message(request, "not_editor", 403)
    return claim


@public
async def login_page(request: web.Request) -> web.StreamResponse:
    """A link opened: a button that signs in. A GET changes nothing, so Telegram's link
    preview (which fetches the link) cannot use it up before the editor does."""
    token = request.query.get("t", "")
    claim = _claim(request, token)
    if isinstance(claim, web.Response):
        return claim
    return page(request, "login.html", token=token, name=claim.name)


@public
async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    claim = _claim(request, str(form.get("t", "")))
    if isinstance(claim, web.Response):
        return claim
    store = request.app[STORE]
    if not await store.use_nonce(claim.nonce, claim.expires):
        return message(request, "link_used", 410)
    editor = Editor(claim.editor_id, claim.name)
    session = await store.open_session(editor)
    await store.audit(editor, "sign-in", "")
    response = web.Response(status=303, headers={"Location": "/workspace/"})
    public_url = request.app[SERVICES].settings.public_url or ""
    response.set_cookie(COOKIE, session, max_age=auth.SESSION_SECONDS, path="/workspace",
                        httponly=True, samesite="Strict",
                        secure=public_url.startswith("https://"))
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE]
    await store.audit(editor_of(request), "sign-out", "")
    await store.close_session(request[SESSION])
    response = message(request, "signed_out", 200)
    response.del_cookie(COOKIE, path="/workspace")
    return response


@public
async def set_language(request: web.Request) -> web.StreamResponse:
    lang = request.match_info["lang"]
    back = request.query.get("back", "")
    response = web.Response(status=303, headers={
        "Location": back if back.startswith("/workspace/") else "/workspace/"})
    if lang in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, path="/workspace", samesite="Strict",
                            max_age=365 * 86400)
    return response


# --- the draft an editor works on ----------------------------------------------------------------

async def current_draft(request: web.Request) -> Draft | None:
    """The draft named by ?draft=, else the editor's own open one."""
    store = request.app[STORE]
    wanted = request.query.get("draft", "")
    if wanted.isdigit():
        return await store.draft(int(wanted))
    mine = [d for d in await store.drafts((DRAFT, RETURNED))
            if d.editor.id == editor_of(request).id]
    return mine[0] if mine else None


async def tree(request: web.Request, draft: Draft | None) -> tuple[str, dict[str, bytes]]:
    """The published version's id and files, with the draft's files over them."""
    version, files = await request.app[PUBLISHED_KEY].current()
    merged = dict(files)
    if draft is not None:
        for name, text in draft.files.items():
            merged[name] = text.encode("utf-8")
    return version, merged


async def save_file(request: web.Request, name: str, text: str) -> Draft:
    """Put one file's new text into the editor's open draft (made on first change)."""
    store = request.app[STORE]
    editor = editor_of(request)
    draft = await current_draft(request)
    if draft is None or draft.status not in (DRAFT, RETURNED) or draft.editor.id != editor.id:
        version, _ = await request.app[PUBLISHED_KEY].current()
        draft = await store.draft(await store.create_draft(editor, version))
        assert draft is not None
    files = dict(draft.files)
    version, published = await request.app[PUBLISHED_KEY].current()
    if published.get(name) == text.encode("utf-8"):
        files.pop(name, None)  # back to what is published: no change
    else:
        files[name] = text
    status = DRAFT if draft.status == RETURNED else draft.status
    await store.update_draft(draft.id, files=files, status=status)
    await store.audit(editor, "edit", f"draft {draft.id}: {name}")
    found = await store.draft(draft.id)
    assert found is not None
    return found


def shown_problem(problem: Problem, lang: str) -> str:
    return translate(problem.key or problem.message, dict(problem.values), lang)


def problems_by_field(problems: list[Problem], name: str, text: str, lang: str,
                      suffix: str = "") -> tuple[dict[str, list[Problem]], list[Problem]]:
    """A file's problems by the form field on their line (`title_ru`), and the rest."""
    at = field_lines(text)
    fields: dict[str, list[Problem]] = defaultdict(list)
    rest = []
    for problem in problems:
        if problem.path != name:
            continue
        field = _field_at(problem.line, at)
        if field is None:
            rest.append(problem)
        else:
            fields[f"{field}{suffix}"].append(problem)
    return fields, rest


def field_lines(text: str) -> dict[str, int]:
    """The line where each top-level front-matter key starts, and the body's first line."""
    lines = text.split("\n")
    at: dict[str, int] = {}
    if not lines or lines[0].strip() != "---":
        return at
    for index, line in enumerate(lines[1:], start=2):
        if line.strip() == "---":
            at[BODY] = index + 1
            break
        if line[:1].isalpha() and ":" in line:
            at[line.split(":", 1)[0].strip()] = index
    return at


def _field_at(line: int, at: Mapping[str, int]) -> str | None:
    best = None
    for name, start in sorted(at.items(), key=lambda item: item[1]):
        if start <= line:
            best = name
    return best


# --- pages ---------------------------------------------------------------------------------------

def _snapshot(request: web.Request) -> ContentSnapshot:
    return request.app[SERVICES].content.snapshot


async def _tree_snapshot(request: web.Request, files: Mapping[str, bytes]) -> ContentSnapshot:
    """The draft's tree as the bot would serve it; the published one while it has errors."""
    return await request.app[VALIDATOR].snapshot(files) or _snapshot(request)


def menu_tree(snapshot: ContentSnapshot, lang: str) -> list[tuple[int, Any]]:
    rows: list[tuple[int, Any]] = []

    def walk(parent: str | None, depth: int) -> None:
        for topic in snapshot.menu(lang, parent):
            rows.append((depth, topic))
            if depth < 8:
                walk(topic.id, depth + 1)

    walk(None, 0)
    return rows


async def home(request: web.Request) -> web.StreamResponse:
    snapshot = _snapshot(request)
    store = request.app[STORE]
    drafts = await store.drafts()
    return page(request, "home.html", trees={lang: menu_tree(snapshot, lang)
                                             for lang in LANGUAGES},
                drafts=drafts, contacts=sorted(snapshot.contacts.values(),
                                               key=lambda c: (c.country, c.id)),
                status_word=lambda s: words(ui_lang(request))(f"status_{s}"))


def _topic_languages(snapshot: ContentSnapshot) -> list[str]:
    return [code for code in snapshot.languages.codes if code in snapshot.languages.full] or [
        "ru"]


async def topic_page(request: web.Request) -> web.StreamResponse:
    topic_id = request.match_info["topic"]
    if not TOPIC_ID_RE.match(topic_id):
        raise web.HTTPNotFound()
    draft = await current_draft(request)
    _, files = await tree(request, draft)
    snapshot = await _tree_snapshot(request, files)
    langs = [lang for lang in snapshot.languages.codes if f"{lang}/{topic_id}.md" in files]
    if not langs:
        raise web.HTTPNotFound()
    problems = await request.app[VALIDATOR].problems(files)
    columns = []
    lang = ui_lang(request)
    for code in langs:
        name = f"{code}/{topic_id}.md"
        text = files[name].decode("utf-8", "replace")
        fields = read_topic(text)
        by_field, rest = problems_by_field(problems, name, text, lang, f"_{code}")
        preview = preview_topic(snapshot, name, text, code,
                                talk=request.app[SERVICES].handoff is not None)
        columns.append({"lang": code, "name": name, "fields": fields, "text": text,
                        "values": {k: shown_value(k, fields.meta.get(k)) for k in
                                   [*TOPIC_FIELDS, *[k for k in fields.meta
                                                     if k not in TOPIC_FIELDS]]},
                        "problems": {k: [shown_problem(p, lang) for p in v]
                                     for k, v in by_field.items()},
                        "other": [shown_problem(p, lang) for p in rest],
                        "screens": preview.screens})
    return page(request, "topic.html", topic_id=topic_id, columns=columns, draft=draft,
                fields=TOPIC_FIELDS, saved=request.query.get("saved"))


async def topic_save(request: web.Request) -> web.StreamResponse:
    topic_id = request.match_info["topic"]
    if not TOPIC_ID_RE.match(topic_id):
        raise web.HTTPNotFound()
    form = {k: str(v) for k, v in (await request.post()).items()}
    draft = await current_draft(request)
    _, files = await tree(request, draft)
    snapshot = await _tree_snapshot(request, files)
    for code in snapshot.languages.codes:
        name = f"{code}/{topic_id}.md"
        if name not in files or not any(k.endswith(f"_{code}") for k in form):
            continue
        old = read_topic(files[name].decode("utf-8", "replace"))
        new = topic_from_form(old, form, code) if old.broken is None else TopicFields(
            broken=form.get(f"raw_{code}", old.broken))
        text, _ = write_topic(new)
        draft = await save_file(request, name, text)
    suffix = f"?draft={draft.id}&saved=1" if draft else ""
    raise web.HTTPSeeOther(f"/workspace/topic/{topic_id}{suffix}")


async def preview_endpoint(request: web.Request) -> web.StreamResponse:
    """JSON {topic, lang, fields: {title_ru: …}} → the screens as safe HTML and the problems."""
    try:
        data = await request.json()
        topic_id, code, form = str(data["topic"]), str(data["lang"]), dict(data["fields"])
    except (ValueError, KeyError, TypeError):
        return web.json_response({"error": "bad request"}, status=400)
    snapshot = _snapshot(request)
    if not TOPIC_ID_RE.match(topic_id) or code not in snapshot.languages.codes:
        return web.json_response({"error": "bad request"}, status=400)
    name = f"{code}/{topic_id}.md"
    draft = await current_draft(request)
    _, files = await tree(request, draft)
    snapshot = await _tree_snapshot(request, files)
    old = read_topic(files[name].decode("utf-8", "replace")) if name in files else TopicFields()
    text, _ = write_topic(topic_from_form(old, {k: str(v) for k, v in form.items()}, code))
    preview = preview_topic(snapshot, name, text, code,
                            talk=request.app[SERVICES].handoff is not None)
    lang = ui_lang(request)
    by_field, rest = problems_by_field(preview.problems, name, text, lang, f"_{code}")
    return web.json_response({
        "screens": [{"html": str(s.html), "buttons": s.buttons} for s in preview.screens],
        "problems": {k: [shown_problem(p, lang) for p in v] for k, v in by_field.items()},
        "other": [shown_problem(p, lang) for p in rest]})


async def phone_endpoint(request: web.Request) -> web.StreamResponse:
    try:
        data = await request.json()
        phone, country = str(data["phone"]), str(data["country"]).upper()
    except (ValueError, KeyError, TypeError):
        return web.json_response({"error": "bad request"}, status=400)
    shown = normal_phone(phone.strip(), country)
    lang = ui_lang(request)
    if isinstance(shown, PhoneError):
        return web.json_response({"ok": False, "problem": translate(
            shown.message, {"contact": "", **shown.values}, lang)})
    return web.json_response({"ok": True, "shown": words(lang)("phone_ok", phone=shown)})


async def contact_page(request: web.Request) -> web.StreamResponse:
    contact_id = request.match_info["contact"]
    draft = await current_draft(request)
    _, files = await tree(request, draft)
    text = files.get(CONTACTS, b"").decode("utf-8", "replace")
    found = next((c for c in read_contacts(text) if str(c["id"]) == contact_id), None)
    if found is None:
        raise web.HTTPNotFound()
    block = contact_block(text, contact_id)
    problems = await request.app[VALIDATOR].problems(files)
    lang = ui_lang(request)
    at: dict[str, int] = {}
    if block is not None:
        lines = text.split("\n")
        for index in range(block[0], block[1]):
            key = lines[index].strip().removeprefix("- ").split(":", 1)[0]
            at.setdefault(key, index + 1)
    by_field: dict[str, list[str]] = defaultdict(list)
    for problem in problems:
        if problem.path == CONTACTS and block and block[0] < problem.line <= block[1]:
            field = _field_at(problem.line, at) or "id"
            by_field[field].append(shown_problem(problem, lang))
    snapshot = _snapshot(request)
    values = {k: found.get(k) for k in CONTACT_FIELDS}
    return page(request, "contact.html", contact_id=contact_id, values=values,
                langs=snapshot.languages.codes, problems=by_field, draft=draft,
                per_language=PER_LANGUAGE, saved=request.query.get("saved"))


async def contact_save(request: web.Request) -> web.StreamResponse:
    contact_id = request.match_info["contact"]
    form = {k: str(v) for k, v in (await request.post()).items()}
    draft = await current_draft(request)
    _, files = await tree(request, draft)
    text = files.get(CONTACTS, b"").decode("utf-8", "replace")
    found = next((c for c in read_contacts(text) if str(c["id"]) == contact_id), None)
    if found is None:
        raise web.HTTPNotFound()
    values = contact_from_form(found, form, _snapshot(request).languages.codes)
    new_text, _ = write_contact(text, contact_id, values)
    draft = await save_file(request, CONTACTS, new_text)
    raise web.HTTPSeeOther(f"/workspace/contact/{contact_id}?draft={draft.id}&saved=1")


async def selfcheck_page(request: web.Request) -> web.StreamResponse:
    draft = await current_draft(request)
    _, files = await tree(request, draft)
    problems = await request.app[VALIDATOR].problems(files)
    lang = ui_lang(request)
    return page(request, "selfcheck.html", draft=draft,
                text=files.get(SELFCHECK, b"").decode("utf-8", "replace"),
                problems=[f"{p.line}: {shown_problem(p, lang)}" for p in problems
                          if p.path == SELFCHECK], saved=request.query.get("saved"))


async def selfcheck_save(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    text = str(form.get("selfcheck", "")).replace("\r\n", "\n")
    draft = await save_file(request, SELFCHECK, text)
    raise web.HTTPSeeOther(f"/workspace/selfcheck?draft={draft.id}&saved=1")


async def new_topic_page(request: web.Request) -> web.StreamResponse:
    return page(request, "new.html", problem="", values={})


async def new_topic(request: web.Request) -> web.StreamResponse:
    form = {k: str(v).strip() for k, v in (await request.post()).items()}
    topic_id = form.get("id", "")
    say = words(ui_lang(request))
    draft = await current_draft(request)
    _, files = await tree(request, draft)
    if not TOPIC_ID_RE.match(topic_id) or topic_id == "main":
        return page(request, "new.html", 422, problem=say("bad_id"), values=form)
    if any(name.endswith(f"/{topic_id}.md") for name in files):
        return page(request, "new.html", 422, problem=say("exists", id=topic_id), values=form)
    for code in _topic_languages(_snapshot(request)):
        meta: dict[str, Any] = {"title": form.get(f"title_{code}", ""),
                                "parent": form.get("parent", "") or "main", "order": 100,
                                "keywords": [], "reviewed": date.today()}
        text, _ = write_topic(TopicFields(meta, form.get(f"body_{code}", "")))
        draft = await save_file(request, f"{code}/{topic_id}.md", text)
    raise web.HTTPSeeOther(f"/workspace/topic/{topic_id}?draft={draft.id if draft else ''}")


# --- review and publish --------------------------------------------------------------------------

async def draft_page(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE]
    draft = await store.draft(int(request.match_info["draft"]))
    if draft is None:
        raise web.HTTPNotFound()
    published = request.app[PUBLISHED_KEY]
    version, base_files = await published.current()
    base = await published.files(draft.base_version) if draft.base_version != version else (
        base_files)
    _, files = await tree(request, draft)
    problems = await request.app[VALIDATOR].problems(files)
    lang = ui_lang(request)
    changed = {name: text.encode() for name, text in draft.files.items()}
    shown = [p for p in problems if p.severity in ("error", "warning") and (
        p.path in changed or p.severity == "error")]
    editor = editor_of(request)
    settings = request.app[SERVICES].settings
    return page(request, "draft.html", draft=draft, version=version,
                stale=draft.base_version != version,
                changes=changes(base, {**base, **changed}),
                problems=[(p, shown_problem(p, lang)) for p in shown],
                blocked=bool(errors(problems)), review=settings.review_needed,
                mine=draft.editor.id == editor.id, message=_said(request, draft),
                status_word=words(lang)(f"status_{draft.status}"))


def _said(request: web.Request, draft: Draft) -> str:
    """The outcome of the last action, from its key in the address; never text taken from
    the address itself (a crafted link must not make the workspace say anything)."""
    say = words(ui_lang(request))
    query = request.query
    if query.get("m") == "published" and query.get("version", "").isdigit():
        return say("published_as", version=query["version"])
    if query.get("m") == "rebased":
        files = [n for n in query.get("files", "").split(",") if n in draft.files]
        return say("rebase_conflict", files=", ".join(files)) if files else ""
    return ""


def _rolled_back(request: web.Request, versions: list[Any]) -> str:
    known = {str(v.id) for v in versions}
    old, new = request.query.get("old", ""), request.query.get("version", "")
    if old in known and new in known:
        return words(ui_lang(request))("rolled_back", old=old, version=new)
    return ""


async def draft_action(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE]
    draft = await store.draft(int(request.match_info["draft"]))
    if draft is None or draft.status not in OPEN_STATUSES:
        raise web.HTTPNotFound()
    action = request.match_info["action"]
    form = await request.post()
    editor = editor_of(request)
    say = words(ui_lang(request))
    settings = request.app[SERVICES].settings
    published = request.app[PUBLISHED_KEY]
    version, _ = await published.current()
    back = f"/workspace/drafts/{draft.id}"

    def done(text: str, status: int = 303) -> web.StreamResponse:
        if status != 303:
            return message(request, "", status) if not text else page(
                request, "message.html", status, text=text, back=back)
        raise web.HTTPSeeOther(back)

    if action == "note":
        await store.update_draft(draft.id, note=str(form.get("note", ""))[:200])
        return done("")
    if action == "submit":
        if draft.editor.id != editor.id:
            return done(say("needs_other"), 403)
        await store.update_draft(draft.id, status=REVIEW, note=str(
            form.get("note", draft.note))[:200] or draft.note)
        await store.audit(editor, "submit", f"draft {draft.id}")
        return done("")
    if action == "return":
        if draft.editor.id == editor.id:
            return done(say("needs_other"), 403)
        comment = str(form.get("comment", ""))[:2000]
        await store.update_draft(draft.id, status=RETURNED, comment=comment)
        await store.audit(editor, "return", f"draft {draft.id}")
        return done("")
    if action == "discard":
        if draft.editor.id != editor.id:
            return done(say("needs_other"), 403)
        await store.update_draft(draft.id, status=DISCARDED)
        await store.audit(editor, "discard", f"draft {draft.id}")
        raise web.HTTPSeeOther("/workspace/")
    if action == "rebase":
        base = await published.files(draft.base_version)
        _, newest = await published.current()
        conflicts = [name for name, text in draft.files.items()
                     if base.get(name) != newest.get(name)]
        await store.update_draft(draft.id, base_version=version)
        await store.audit(editor, "rebase", f"draft {draft.id} onto {version}")
        if conflicts:
            raise web.HTTPSeeOther(f"{back}?m=rebased&files={quote(','.join(conflicts))}")
        return done("")
    if action == "publish":
        if draft.base_version != version:
            return done(say("stale_base", version=version), 409)
        if settings.review_needed:
            if draft.editor.id == editor.id or draft.status != REVIEW:
                return done(say("needs_other"), 403)
        elif form.get("confirm") != "yes":
            return done(say("needs_confirm"), 422)
        _, files = await tree(request, draft)
        if errors(await request.app[VALIDATOR].problems(files)):
            return done(say("blocked_errors"), 422)
        try:
            new_version = await published.publish(files, editor=draft.editor,
                                                  note=draft.note or f"draft {draft.id}",
                                                  parent=version)
        except StaleParent:  # another editor published meanwhile: re-base, never overwrite
            return done(say("stale_base", version=(await published.current())[0]), 409)
        except ContentError:
            return done(say("blocked_errors"), 422)
        except PublishingUnavailable:
            return done(say("versions_off"), 409)
        await store.update_draft(draft.id, status=PUBLISHED)
        await store.audit(editor, "publish", f"draft {draft.id} as version {new_version}")
        raise web.HTTPSeeOther(f"{back}?m=published&version={new_version}")
    raise web.HTTPNotFound()


async def history_page(request: web.Request) -> web.StreamResponse:
    published = request.app[PUBLISHED_KEY]
    version, _ = await published.current()
    versions = await published.history(100)
    a, b = request.query.get("a", ""), request.query.get("b", "")
    compared = None
    if a and b:
        compared = changes(await published.files(a), await published.files(b))
    return page(request, "history.html", versions=versions, current=version, a=a, b=b,
                compared=compared, message=_rolled_back(request, versions),
                audit=await request.app[STORE].audit_log(50))


async def rollback(request: web.Request) -> web.StreamResponse:
    published = request.app[PUBLISHED_KEY]
    old = request.match_info["version"]
    editor = editor_of(request)
    try:
        new_version = await published.rollback(old, editor=editor, note=f"rollback to {old}")
    except (UnknownVersion, ValueError):
        raise web.HTTPNotFound() from None
    except PublishingUnavailable:
        return page(request, "message.html", status=409,
                    text=words(ui_lang(request))("versions_off"))
    await request.app[STORE].audit(editor, "rollback", f"{old} as {new_version}")
    raise web.HTTPSeeOther(f"/workspace/history?old={quote(old)}&version={new_version}")


async def stale_page(request: web.Request) -> web.StreamResponse:
    from bot.stats.release import Noise, load_released
    from bot.stats.reports import gap_list

    services = request.app[SERVICES]
    snapshot = _snapshot(request)
    days = services.settings.stale_after_days
    today = date.today()
    topics = sorted(((today - t.reviewed).days, t) for t in snapshot.topics.values()
                    if (today - t.reviewed).days > days)
    contacts = sorted(((today - c.verified_on).days, c) for c in snapshot.contacts.values()
                      if (today - c.verified_on).days > days)
    unverified = [c for c in snapshot.contacts.values() if not c.verified]
    noise = Noise.from_settings(services.settings)
    gaps = gap_list(await load_released(services.engine, 5), noise)
    return page(request, "stale.html", days=days, topics=topics, contacts=contacts,
                unverified=unverified, gaps=gaps)


# --- the app -------------------------------------------------------------------------------------

def build_workspace(services: Services) -> web.Application:
    app = web.Application(middlewares=[security], client_max_size=1024 * 1024)
    app[SERVICES] = services
    app[STORE] = WorkspaceStore(services.engine)
    app[VALIDATOR] = Validator(services.settings.stale_after_days)
    app[PUBLISHED_KEY] = published_content(services)
    attempts: defaultdict[str, deque[float]] = defaultdict(deque)  # sign-ins by address
    app[ATTEMPTS] = attempts
    routes = [
        web.get("/", home),
        web.get("/login", login_page),
        web.post("/login", login),
        web.post("/logout", logout),
        web.get("/lang/{lang}", set_language),
        web.get("/topic/{topic}", topic_page),
        web.post("/topic/{topic}", topic_save),
        web.get("/new", new_topic_page),
        web.post("/new", new_topic),
        web.post("/preview", preview_endpoint),
        web.post("/phone", phone_endpoint),
        web.get("/contact/{contact}", contact_page),
        web.post("/contact/{contact}", contact_save),
        web.get("/selfcheck", selfcheck_page),
        web.post("/selfcheck", selfcheck_save),
        web.get("/drafts/{draft:\\d+}", draft_page),
        web.post("/drafts/{draft:\\d+}/{action}", draft_action),
        web.get("/history", history_page),
        web.post("/history/{version}/rollback", rollback),
        web.get("/stale", stale_page),
    ]
    app.add_routes(routes)
    app.router.add_static("/static/", HERE / "static", append_version=False)
    return app

