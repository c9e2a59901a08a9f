"""Issue 10.4: the language-memory key lives apart from the database by default.

With the key beside the database, whoever copies the database folder can reverse every stored
HMAC to its chat id by trying all ids. So the key file defaults to the user's config folder
(JOL_SECRET_FILE), an old `jol.secret` beside the database is still used but flagged, and a
key in the database's folder is warned about at start.
"""

from __future__ import annotations

import logging
import re
import stat
from pathlib import Path

import pytest

from bot import REPO_ROOT
from bot.db import SecretUnusable, load_or_create_secret
from bot.services import open_services
from bot.settings import Settings


def sqlite_url(folder: Path) -> str:
    return f"sqlite+aiosqlite:///{folder / 'jol.sqlite3'}"


def test_the_default_key_file_is_in_the_config_folder_not_beside_the_database(
    tmp_path: Path,
) -> None:
    env = {"HOME": str(tmp_path / "home"), "JOL_DATABASE_URL": sqlite_url(tmp_path / "data")}
    assert Settings.from_env(env).secret_file == tmp_path / "home" / ".config" / "jol" / "secret"
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    assert Settings.from_env(env).secret_file == tmp_path / "xdg" / "jol" / "secret"
    env["JOL_SECRET_FILE"] = "~/keys/jol"
    assert Settings.from_env(env).secret_file == tmp_path / "home" / "keys" / "jol"


def test_jol_secret_wins_and_no_file_is_written(tmp_path: Path) -> None:
    key, notices = load_or_create_secret("from-env", tmp_path / "key" / "secret",
                                         sqlite_url(tmp_path))
    assert (key, notices) == (b"from-env", [])
    assert list(tmp_path.iterdir()) == []


def test_the_key_is_generated_once_in_the_key_file_with_0600(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "data")
    key_file = tmp_path / "config" / "jol" / "secret"
    key, notices = load_or_create_secret(None, key_file, url)

    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    text = key_file.read_text().strip()
    assert len(text) == 64 and bytes.fromhex(text)  # 32 random bytes as hex
    assert key == text.encode()
    assert len(notices) == 1 and str(key_file) in notices[0] and "forgets" in notices[0]
    assert not (tmp_path / "data").exists()  # nothing next to the database

    again, second = load_or_create_secret(None, key_file, url)
    assert (again, second) == (key, [])  # read, not regenerated, and nothing to say
    assert load_or_create_secret(text, key_file, url)[0] == key  # JOL_SECRET=<content> agrees
    assert [p.name for p in key_file.parent.iterdir()] == ["secret"]  # no temp files left


def test_an_old_key_beside_the_database_is_used_and_flagged_with_how_to_move_it(
    tmp_path: Path,
) -> None:
    url = sqlite_url(tmp_path / "data")
    old = tmp_path / "data" / "jol.secret"
    old.parent.mkdir()
    old.write_text("c0ffee" * 8 + "\n")
    old.chmod(0o600)
    key_file = tmp_path / "config" / "jol" / "secret"

    key, notices = load_or_create_secret(None, key_file, url)
    assert key == b"c0ffee" * 8  # the language memory survives the upgrade
    assert not key_file.exists()  # nothing generated in its place
    assert len(notices) == 1
    assert f"mv {old} {key_file}" in notices[0]

    key_file.parent.mkdir(parents=True)
    old.rename(key_file)  # what the notice says to do
    assert load_or_create_secret(None, key_file, url) == (key, [])


def test_an_old_key_in_the_working_directory_serves_postgresql_deployments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jol.secret").write_text("old-key\n")
    (tmp_path / "jol.secret").chmod(0o600)
    key, notices = load_or_create_secret(None, tmp_path / "new" / "secret",
                                         "postgresql+asyncpg://jol@db.example/jol")
    assert key == b"old-key"
    assert len(notices) == 1 and "mv " in notices[0]


def test_a_key_file_in_the_database_folder_is_warned_about(tmp_path: Path) -> None:
    key_file = tmp_path / "secret"
    key, notices = load_or_create_secret(None, key_file, sqlite_url(tmp_path))
    assert key
    assert any("same folder as the database" in n for n in notices)


def test_a_key_file_others_can_read_is_warned_about(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "secret"
    key_file.parent.mkdir()
    key_file.write_text("k" * 64)
    key_file.chmod(0o644)
    _, notices = load_or_create_secret(None, key_file, sqlite_url(tmp_path / "data"))
    assert notices == [f"{key_file} is readable by other users; run: chmod 600 {key_file}"]


def test_an_empty_key_file_is_an_error_not_a_weak_key(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("\n")
    with pytest.raises(SecretUnusable, match="empty"):
        load_or_create_secret(None, tmp_path / "secret", sqlite_url(tmp_path / "data"))


def test_a_key_file_that_cannot_be_created_names_the_settings(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    with pytest.raises(SecretUnusable, match=r"JOL_SECRET_FILE .* or set JOL_SECRET"):
        load_or_create_secret(None, tmp_path / "a-file" / "secret", sqlite_url(tmp_path))


async def test_the_bot_warns_at_start_in_one_line_when_key_and_database_share_a_folder(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings.from_env({
        "JOL_DATABASE_URL": sqlite_url(tmp_path), "JOL_SECRET_FILE": str(tmp_path / "key"),
        "JOL_STATS_FLUSH_SECONDS": "3600"})
    caplog.set_level(logging.WARNING, logger="bot")
    async with open_services(settings) as services:
        assert services.memory.chat_key(1)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    same_folder = [w for w in warnings if "same folder as the database" in w]
    assert len(same_folder) == 1 and "\n" not in same_folder[0]
    assert "JOL_SECRET_FILE" in same_folder[0]


def test_the_docker_image_keeps_the_key_off_the_database_volume() -> None:
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    env = dict(re.findall(r"\b(JOL_[A-Z_]+)=(\S+)", dockerfile))
    database, key_file = sqlite_url_file(env["JOL_DATABASE_URL"]), Path(env["JOL_SECRET_FILE"])
    assert database.parent == Path("/data")
    assert Path("/data") not in key_file.parents
    assert 'VOLUME ["/data", "/secret"]' in dockerfile and key_file.parent == Path("/secret")
    assert "JOL_SECRET=" not in dockerfile  # a key is never baked into the image


def sqlite_url_file(url: str) -> Path:
    return Path(url.removeprefix("sqlite+aiosqlite:///"))
