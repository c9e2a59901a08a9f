"""compose.yaml as docker-compose fills it in (with deploy/example.env): every replica gets
settings Jol accepts, the same ones, and is one of the balancer's servers. Without a Docker
engine this is as far as it can be checked here (.ci/run also validates both files)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from bot import REPO_ROOT
from bot.db import parse_database_url
from bot.settings import Settings

COMPOSE = shutil.which("docker-compose")
pytestmark = pytest.mark.skipif(
    COMPOSE is None and os.environ.get("JOL_REQUIRE_E2E") != "1",
    reason="docker-compose is not installed (apt-get install docker-compose; .ci/run does)")


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    assert COMPOSE is not None, "docker-compose is required here (JOL_REQUIRE_E2E=1)"
    shown = subprocess.run(
        [COMPOSE, "--env-file", "deploy/example.env", "-f", "compose.yaml", "config"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=60).stdout
    found: dict[str, Any] = yaml.safe_load(shown)["services"]
    return found


def balancer_servers() -> list[str]:
    """The host of each server in deploy/haproxy.cfg, as its default address names it."""
    text = (REPO_ROOT / "deploy" / "haproxy.cfg").read_text()
    return re.findall(r'^\s*server \S+ "\$\{\w+-([\w.-]+):8080\}"', text, re.MULTILINE)


def test_the_replicas_are_the_balancers_servers(services: dict[str, Any]) -> None:
    replicas = sorted(name for name in services if name.startswith("jol-"))
    assert replicas == balancer_servers() == ["jol-1", "jol-2", "jol-3"]
    assert services["haproxy"]["ports"] == ["127.0.0.1:8080:8080/tcp"]  # TLS is in front


def test_every_replica_gets_the_same_webhook_settings_on_postgresql(
    services: dict[str, Any],
) -> None:
    replicas = [services[name] for name in ("jol-1", "jol-2", "jol-3")]
    environments = [replica["environment"] for replica in replicas]
    assert all(env == environments[0] for env in environments)  # one key, one webhook secret
    settings = Settings.from_env(environments[0])  # what `jol run` would refuse, raises here
    assert settings.webhook_url == "https://bot.example.org/telegram"
    assert settings.webhook_secret
    assert settings.webhook_connections == 100  # Telegram's most, ~33 for each of three
    url = parse_database_url(settings.database_url)
    assert (url.get_backend_name(), url.host) == ("postgresql", "postgres")
    # The key comes from the compose secret, the same file for every replica.
    assert str(settings.secret_file) == "/run/secrets/jol_secret"
    assert all(replica["secrets"] == [{"source": "jol_secret"}] for replica in replicas)
    for replica in replicas:
        assert replica["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert replica["image"] == services["migrate"]["image"]  # migrated by the same version


def test_the_migration_runs_jol_db_upgrade_once(services: dict[str, Any]) -> None:
    migrate = services["migrate"]
    assert migrate["command"] == ["db", "upgrade"]
    assert migrate["restart"] == "no"
    assert migrate["environment"]["JOL_DATABASE_URL"] == (
        services["jol-1"]["environment"]["JOL_DATABASE_URL"])
