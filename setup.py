"""migrations/ stays at the repository's top level and ships inside the package as
bot.migrations, so an installed `jol` finds it (pyproject.toml cannot map a folder this way)."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["bot*"]), "bot.migrations", "bot.migrations.versions"],
    package_dir={"bot.migrations": "migrations"},
)
