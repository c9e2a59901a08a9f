"""requirements.lock (what the Docker image installs) and pyproject.toml cannot drift apart:
every runtime dependency, and each of theirs, is pinned to a version inside its range."""

from __future__ import annotations

import tomllib
from importlib.metadata import PackageNotFoundError, distribution

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from bot import REPO_ROOT


def locked() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for raw in (REPO_ROOT / "requirements.lock").read_text().splitlines():
        line = raw.split("#")[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep, f"requirements.lock: {line!r} is not pinned with =="
        assert canonicalize_name(name) not in pins, f"requirements.lock: {name} twice"
        pins[canonicalize_name(name)] = Version(version)
    return pins


def runtime_requirements() -> list[Requirement]:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    return [Requirement(r) for r in pyproject["project"]["dependencies"]]


def closure(requirements: list[Requirement]) -> list[Requirement]:
    """The requirements and, from the installed packages' metadata, theirs (extras included)."""
    seen: list[Requirement] = []
    todo = list(requirements)
    done: set[tuple[str, frozenset[str]]] = set()
    while todo:
        requirement = todo.pop()
        seen.append(requirement)
        key = (canonicalize_name(requirement.name), frozenset(requirement.extras))
        if key in done:
            continue
        done.add(key)
        try:
            requires = distribution(requirement.name).requires or []
        except PackageNotFoundError:
            continue  # reported by the range check below: the lock must still hold it
        for raw in requires:
            child = Requirement(raw)
            wanted = [{"extra": e} for e in requirement.extras] or [{"extra": ""}]
            if child.marker is None or any(child.marker.evaluate(env) for env in wanted):
                todo.append(child)
    return seen


def test_every_runtime_dependency_is_locked_inside_its_range() -> None:
    pins = locked()
    for requirement in closure(runtime_requirements()):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not in requirements.lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {name}=={pins[name]}, outside {requirement}")


def test_known_vulnerable_versions_are_excluded() -> None:
    aiohttp = next(r for r in runtime_requirements() if r.name == "aiohttp")
    assert not aiohttp.specifier.contains("3.12.13")  # CVE-2025-53643
    assert locked()["aiohttp"] >= Version("3.12.14")


def test_the_image_installs_the_lock_and_nothing_resolved_again() -> None:
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert "pip install --no-cache-dir --prefix=/install -r requirements.lock" in dockerfile
    assert "pip install --no-cache-dir --prefix=/install --no-deps ." in dockerfile
