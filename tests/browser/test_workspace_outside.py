"""The workspace from outside, over plain HTTP against a real `jol run` (issue 13, "Security
checks from outside"): no change without a valid session and CSRF token, forged, reused and
expired sign-in links refused with a clear page, a strict CSP on every page, and no address
beyond this server in any page or asset.

The pages and forms are found by crawling what a signed-in editor can reach, so a page added
later is checked too, without naming it here.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from bot.workspace.auth import make_link_token, workspace_key
from tests.browser.stand import EDITORS, Stand

CLEAR_MESSAGE = re.compile(r'<p role="alert"[^>]*>\s*[^<\s][^<]{10,}</p>')
CSP_MUST = ("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'",
            "base-uri 'none'", "form-action 'self'")
SIGN_OUT = re.compile(r"logout|sign-?out", re.IGNORECASE)


@dataclass
class Form:
    page: str
    action: str
    fields: dict[str, str]


@dataclass
class PageParts(HTMLParser):
    """The links, assets and POST forms of one HTML page."""

    base: str
    links: list[str] = field(default_factory=list)
    assets: list[str] = field(default_factory=list)
    forms: list[Form] = field(default_factory=list)
    inline_scripts: int = 0
    _form: Form | None = None
    _in_script: bool = False

    def __post_init__(self) -> None:
        super().__init__()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "a" and values.get("href"):
            self.links.append(urljoin(self.base, values["href"]))
        if tag in ("script", "img", "link", "iframe", "source") and (
                values.get("src") or values.get("href")):
            self.assets.append(urljoin(self.base, values.get("src") or values["href"]))
        if tag == "script":
            self._in_script = not values.get("src")
        if tag == "form" and values.get("method", "get").lower() == "post":
            self._form = Form(self.base, urljoin(self.base, values.get("action", "")), {})
            self.forms.append(self._form)
        if self._form is not None and tag in ("input", "textarea", "select", "button") and (
                values.get("name")):
            self._form.fields.setdefault(values["name"], values.get("value", ""))

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        if tag == "script":
            self._in_script = False


@dataclass
class Crawl:
    pages: dict[str, httpx.Response] = field(default_factory=dict)
    assets: dict[str, httpx.Response] = field(default_factory=dict)
    forms: list[Form] = field(default_factory=list)
    inline_scripts: dict[str, int] = field(default_factory=dict)


def crawl(client: httpx.Client, start: str, limit: int = 60) -> Crawl:
    """Every workspace page reachable from `start` by GET (sign-out not followed)."""
    origin = urlsplit(start).netloc
    seen = Crawl()
    todo = [start]
    while todo and len(seen.pages) < limit:
        url = todo.pop(0).split("#")[0]
        if url in seen.pages or SIGN_OUT.search(url):
            continue
        answer = client.get(url)
        seen.pages[url] = answer
        if "text/html" not in answer.headers.get("content-type", ""):
            continue
        parts = PageParts(url)
        parts.feed(answer.text)
        seen.forms += parts.forms
        seen.inline_scripts[url] = parts.inline_scripts
        for asset in parts.assets:
            if asset not in seen.assets:  # another site's, too: a failure, seen in the test
                seen.assets[asset] = client.get(asset) if urlsplit(
                    asset).netloc == origin else httpx.Response(0)
        for link in parts.links:
            target = urlsplit(link)
            if target.netloc == origin and target.path.startswith("/workspace/"):
                todo.append(link)
    return seen


def open_link(client: httpx.Client, link: str) -> httpx.Response:
    """What an editor does with a link: open it, then press "sign in" on the page (a GET alone
    uses nothing up, so Telegram's link preview cannot spend it)."""
    shown = client.get(link)
    if shown.status_code != 200:
        return shown
    parts = PageParts(str(shown.url))
    parts.feed(shown.text)
    (form,) = [form for form in parts.forms if "/workspace/login" in form.action]
    return client.post(form.action, data=form.fields)


def signed_in(stand: Stand, editor: int = EDITORS[0]) -> httpx.Client:
    client = httpx.Client(timeout=30, follow_redirects=True)
    answer = open_link(client, stand.link_from_bot(editor))
    assert answer.status_code == 200, answer.text
    assert str(answer.url) == stand.url("/workspace/")
    return client


@pytest.fixture(scope="module")
def stand(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stand]:
    """One `jol run` for this module: its tests read pages and try changes that must be
    refused (the last test checks the content version did not move), so none of them changes
    what another sees; a Stand costs a second or two of CPU."""
    with Stand(tmp_path_factory.mktemp("outside")) as running:
        yield running


@pytest.fixture
def editor(stand: Stand) -> Iterator[httpx.Client]:
    client = signed_in(stand)
    yield client
    client.close()


def foreign_addresses(text: str, origin: str) -> set[str]:
    """Absolute http(s) or protocol-relative addresses in a script or style sheet that are not
    `origin` (an `@import`, a `url(…)`, a `fetch`)."""
    found = set(re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}[^\s\"'<>)]*", text))
    return {address for address in found if urlsplit(address).netloc != origin}


def test_every_page_has_a_strict_csp_and_nothing_from_elsewhere(stand: Stand,
                                                                 editor: httpx.Client) -> None:
    seen = crawl(editor, stand.url("/workspace/"))
    assert len(seen.pages) >= 3, f"only {list(seen.pages)} reachable from the workspace"
    origin = urlsplit(stand.base).netloc
    for url, answer in seen.pages.items():
        assert answer.status_code == 200, (url, answer.status_code)
        policy = answer.headers.get("content-security-policy", "")
        for directive in CSP_MUST:
            assert directive in policy, f"{url}: CSP {policy!r} lacks {directive!r}"
        assert answer.headers.get("x-content-type-options") == "nosniff", url
        assert seen.inline_scripts.get(url, 0) == 0, f"{url} has an inline script"
    # Content may name other sites (as text, or a link in the preview); what a page loads
    # (scripts, styles, images, fonts) must come from here.
    assert seen.assets, "the workspace loads no style sheet or script of its own"
    for url, answer in seen.assets.items():
        assert urlsplit(url).netloc == origin, f"a page loads {url}"
        assert answer.status_code == 200, url
        assert not foreign_addresses(answer.text, origin), url


def test_no_change_without_a_session_and_its_csrf_token(stand: Stand,
                                                        editor: httpx.Client) -> None:
    seen = crawl(editor, stand.url("/workspace/"))
    forms = [form for form in seen.forms if not SIGN_OUT.search(form.action)]
    assert forms, "no form to change anything was found"
    version = stand.http.get(stand.url("/healthz")).json()["content_version"]
    other = signed_in(stand, EDITORS[1])
    other_csrf = next(value for form in crawl(other, stand.url("/workspace/")).forms
                      for name, value in form.fields.items() if "csrf" in name.lower())
    other.close()
    stranger = httpx.Client(timeout=30)
    for form in forms:
        csrf = [name for name in form.fields if "csrf" in name.lower()]
        assert csrf, f"the form to {form.action} on {form.page} has no CSRF token"
        without = {k: v for k, v in form.fields.items() if k not in csrf}
        wrong = {**without, csrf[0]: other_csrf}
        attempts = {
            "no session": stranger.post(form.action, data=form.fields),
            "no CSRF token": editor.post(form.action, data=without, follow_redirects=False),
            "another session's token": editor.post(form.action, data=wrong,
                                                   follow_redirects=False),
            "another site's Origin": editor.post(
                form.action, data=form.fields, follow_redirects=False,
                headers={"Origin": "https://attacker.example"}),
        }
        for what, answer in attempts.items():
            assert answer.status_code in (400, 401, 403), (
                f"POST {form.action} with {what}: {answer.status_code}")
    stranger.close()
    assert stand.http.get(stand.url("/healthz")).json()["content_version"] == version


def test_forged_reused_and_expired_links_are_refused(stand: Stand) -> None:
    link = stand.link_from_cli(EDITORS[0])
    payload, _, signature = link.partition("?t=")[2].partition(".")
    key = workspace_key(b"browser-test-secret")
    expired = make_link_token(key, EDITORS[0], "Editor", now=time.time() - 3600)
    refused = {
        "forged signature": f"{link[:-4]}AAAA",
        "payload swapped": link.replace(payload, make_link_token(
            key, EDITORS[1], "X").partition(".")[0]),
        "signed, but not an editor": stand.url(
            f"/workspace/login?t={make_link_token(key, 424242, 'Not an editor')}"),
        "expired": link.replace(f"{payload}.{signature}", expired),
        "garbage": stand.url("/workspace/login?t=%00%ff<script>"),
        "none": stand.url("/workspace/login"),
    }
    with httpx.Client(timeout=30, follow_redirects=True) as client:
        first = open_link(client, link)
        assert first.status_code == 200 and str(first.url) == stand.url("/workspace/")
    refused["reused"] = link
    for what, url in refused.items():
        with httpx.Client(timeout=30, follow_redirects=True) as client:
            answer = open_link(client, url)
            assert 400 <= answer.status_code < 500, (what, answer.status_code)
            assert "Traceback" not in answer.text and "<script>" not in answer.text, what
            assert CLEAR_MESSAGE.search(answer.text), (what, answer.text)
            home = client.get(stand.url("/workspace/"), follow_redirects=False)
            assert home.status_code != 200, f"a {what} link opened a session"
