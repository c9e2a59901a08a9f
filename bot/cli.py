"""The `jol` command: parses arguments and calls into the package; nothing else lives here."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC
from importlib.metadata import version
from pathlib import Path

from bot.content.checker_messages import CHECKER_LANGUAGES, translate
from bot.content.loader import load_from
from bot.content.model import ContentSnapshot
from bot.content.source import (
    ContentFiles,
    ContentSource,
    FolderSource,
    StaticSource,
    read_regular,
    write_folder,
)
from bot.content.store import ContentError, ContentStore
from bot.content.versions import ContentVersions, StaleParent, UnknownVersion
from bot.content.yamlfile import DATA_LIMIT, decode
from bot.languages import Languages, parse_languages
from bot.settings import CONFIGURATION_ERROR, Settings, SettingsError


def _load_snapshot(content_dir: Path, settings: Settings) -> ContentSnapshot:
    """The snapshot the bot would serve (the same store); ContentError if it does not load."""
    return ContentStore(FolderSource(content_dir), settings.stale_after_days).snapshot


def _unconfigured(lang: str | None, languages: Languages) -> bool:
    """`--lang` names a language the content does not configure: say which ones it does."""
    if lang is None or lang in languages:
        return False
    print(f"jol: --lang {lang}: not a configured language (content/languages.yaml: "
          f"{', '.join(languages.codes)})", file=sys.stderr)
    return True


def content_error_line(error: ContentError, content_dir: Path) -> str:
    """A content folder that does not load, in one line: the first error and where to look."""
    errors = [p for p in error.problems if p.severity == "error"]
    first = f"{errors[0]}" if errors else "it failed to load"
    more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
    return (f"JOL_CONTENT_DIR {content_dir} does not load: {first}{more}; "
            "run `jol content check`")


@contextmanager
def _versions(settings: Settings, *, migrate: bool = False) -> Iterator[tuple[
        asyncio.Runner, ContentVersions]]:
    """The content versions of JOL_DATABASE_URL, on one event loop for the whole command.
    `migrate`: bring the schema up first (import); else it must be current already."""
    from bot import db

    with asyncio.Runner() as runner:
        if migrate:
            runner.run(db.upgrade(settings.database_url))
        elif runner.run(db.schema_version(settings.database_url)) != db.schema_head():
            raise db.DatabaseUnusable(
                f"the database JOL_DATABASE_URL={db.shown_url(settings.database_url)} is not "
                "migrated to this version of Jol; run `jol db upgrade` (or `jol content "
                "import`) first")
        engine = db.create_engine(settings.database_url)
        try:
            yield runner, ContentVersions(engine, stale_after_days=settings.stale_after_days)
        finally:
            runner.run(engine.dispose())


def _version_files(settings: Settings, version: int | None) -> ContentFiles | str:
    """A version's files (the published one when `version` is None), or why there are none."""
    with _versions(settings) as (runner, versions):
        if version is None:
            version = runner.run(versions.newest_id())
            if version is None:
                return "the database has no content version yet: run `jol content import`"
        try:
            return runner.run(versions.files(version))
        except UnknownVersion as error:
            return f"{error}: `jol content history` lists them"


def cmd_content_check(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 0 when the content loads (and, with --strict, has no warnings), else 1."""
    if args.version is not None:
        if args.dir:
            print("jol content check: give a folder or --version, not both", file=sys.stderr)
            return 2
        tree = _version_files(settings, args.version)
        if isinstance(tree, str):
            print(tree, file=sys.stderr)
            return 2
        source: ContentSource = StaticSource(tree)
    else:
        source = FolderSource(Path(args.dir) if args.dir else settings.content_dir)
    snapshot, problems = load_from(source, stale_after_days=settings.stale_after_days)
    lang = args.lang
    for problem in problems:
        print(problem.show(lang))
    errors = sum(p.severity == "error" for p in problems)
    warnings = sum(p.severity == "warning" for p in problems)  # a note never fails --strict
    if snapshot is not None:
        print(translate("{topics} topics in {languages} languages, {contacts} contacts: "
                        "{errors} errors, {warnings} warnings",
                        {"topics": len(snapshot.topic_ids()), "languages": len(snapshot.languages),
                         "contacts": len(snapshot.contacts), "errors": errors,
                         "warnings": warnings}, lang))
    else:
        print(translate("{errors} errors, {warnings} warnings: content NOT loadable",
                        {"errors": errors, "warnings": warnings}, lang))
    if errors or (args.strict and warnings):
        if args.strict and warnings and not errors:
            print(translate("--strict: warnings count as errors", {}, lang))
        return 1
    return 0


def cmd_content_import(args: argparse.Namespace, settings: Settings) -> int:
    """Publish a folder as a new version on top of the newest; refuse one with errors."""
    folder = Path(args.dir) if args.dir else settings.content_dir
    if not folder.is_dir():
        print(f"jol content import: {folder} is not a folder", file=sys.stderr)
        return 2
    tree = FolderSource(folder).read()
    with _versions(settings, migrate=True) as (runner, versions):
        try:
            versions.check(tree.files, tree.name, unreadable=tree.unreadable)
        except ContentError as error:
            for problem in error.problems:
                if problem.severity == "error":
                    print(problem.show(args.lang))
            print(f"{folder}: NOT imported; fix these problems and import again",
                  file=sys.stderr)
            return 1
        newest = runner.run(versions.newest_id())
        if newest is not None and runner.run(versions.files(newest)).files == tree.files:
            print(f"{folder} is already version {newest}: nothing to publish")
            return 0
        author = f"{getpass.getuser()} (jol content import)"
        note = args.note or f"imported from the folder {folder}"
        try:
            info = runner.run(versions.publish(tree.files, author_id=None, author_name=author,
                                               note=note, parent_id=newest, checked=True))
        except StaleParent as error:
            print(f"jol content import: {error}", file=sys.stderr)
            return 1
        changed = len(runner.run(versions.changed_files(newest, info.id))) if newest else None
    if changed is None:
        what = f"{len(tree.files)} files"
    else:
        what = f"{changed} changed file{'' if changed == 1 else 's'}"
    print(f"published version {info.id} ({what}): {note}")
    return 0


def cmd_content_export(args: argparse.Namespace, settings: Settings) -> int:
    """Write a version (the published one by default) to a folder, byte for byte."""
    tree = _version_files(settings, args.version)
    if isinstance(tree, str):
        print(tree, file=sys.stderr)
        return 2
    folder = Path(args.dir)
    try:
        removed = write_folder(tree.files, folder)
    except (OSError, ValueError) as error:
        print(f"jol content export: cannot write {folder}: {error}", file=sys.stderr)
        return 2
    print(f"wrote {tree.name} to {folder}: {len(tree.files)} files"
          + (f", removed {len(removed)} not in it ({', '.join(removed)})" if removed else ""))
    return 0


def cmd_content_history(args: argparse.Namespace, settings: Settings) -> int:
    with _versions(settings) as (runner, versions):
        history = runner.run(versions.history(args.limit))
    if not history:
        print("the database has no content version yet: run `jol content import`")
    for number, info in enumerate(history):
        author = info.author_name + (f" (id {info.author_id})" if info.author_id else "")
        parent = f"on {info.parent_id}" if info.parent_id else "first"
        mark = "  ← published" if number == 0 else ""
        print(f"{info.id:>5}  {info.created_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC  {parent:<8}"
              f"  {author}: {info.note}{mark}")
    return 0


def cmd_content_list(args: argparse.Namespace, settings: Settings) -> int:
    snapshot = _load_snapshot(settings.content_dir, settings)
    rows = [
        {"id": t.id, "lang": t.lang, "title": t.title, "parent": t.parent}
        for t in sorted(snapshot.topics.values(), key=lambda t: (t.lang, t.id))
    ]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    else:
        for row in rows:
            print(f"{row['lang']}  {row['id']:<24} {row['title']}  (in {row['parent'] or '-'})")
    return 0


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    snapshot = _load_snapshot(settings.content_dir, settings)
    if _unconfigured(args.lang, snapshot.languages):
        return 2
    queries = sys.stdin.read().splitlines() if args.query == "-" else [args.query]
    for query in queries:
        hits = snapshot.search.search(query, args.lang)
        if args.json or args.query == "-":
            print(json.dumps([{"topic": h.topic, "score": h.score} for h in hits]))
        elif not hits:
            print("nothing found")
        else:
            for hit in hits:
                topic = snapshot.topic(args.lang, hit.topic)
                print(f"{hit.score:7.2f}  {hit.topic:<22} {topic.title if topic else ''}")
    return 0


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.terminal_chat import chat

    data = read_regular(settings.content_dir / "languages.yaml", DATA_LIMIT)
    text = decode(data) if isinstance(data, bytes) else data
    if isinstance(text, str) and _unconfigured(args.lang, parse_languages(text)[0]):
        return 2
    asyncio.run(chat(settings, args.lang))
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.token:
        print("TELEGRAM_BOT_TOKEN is not set. Get a token from @BotFather and run:\n"
              "    TELEGRAM_BOT_TOKEN=123:abc jol run\n"
              "To try the bot without Telegram, run: jol chat", file=sys.stderr)
        return 2
    from bot.server import serve

    return asyncio.run(serve(settings))


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from bot import db

    before, after = asyncio.run(db.upgrade(settings.database_url))
    url = db.shown_url(settings.database_url)
    if before == after:
        print(f"database {url} is at schema {after} (up to date)")
    else:
        print(f"migrated {url} from {before or 'empty'} to {after}")
    return 0


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from bot.doctor import doctor

    return doctor(settings)


def contact_names(snapshot: ContentSnapshot, lang: str = "ru") -> dict[str, str]:
    """contact id → "phone — name (id)", how editors know a number and find it in the file."""
    return {c.id: f"{c.phone} — {c.name.get(lang) or ''} ({c.id})"
            for c in snapshot.contacts.values()}


async def _stats(args: argparse.Namespace, settings: Settings, snapshot: ContentSnapshot) -> str:
    """Release any closed week not yet released, then report released weeks only."""
    from bot import db
    from bot.stats import release, reports

    noise = release.Noise.from_settings(settings)
    engine = db.create_engine(settings.database_url)
    try:
        await release.release_closed_periods(engine, snapshot, noise)
        released = await release.load_released(engine, release.weeks_for_days(args.days))
    finally:
        await engine.dispose()
    if args.chart:
        titles = {t.id: t.title for t in snapshot.topics.values() if t.lang == "ru"}
        reports.chart_png(released, args.chart, noise, titles=titles)
        print(f"chart written to {args.chart}", file=sys.stderr)
    if args.csv:
        return reports.to_csv(released, noise)
    if args.gaps:
        gaps = reports.gap_list(released, noise)
        lines = [f"{count:6}  {word}" for word, count in gaps] or [
            "no word of a failed search reached the threshold in the released weeks"]
        if released.periods:
            lines = [*reports.header(released, noise), "", *lines]
        return "\n".join(lines) + "\n"
    table = reports.summary_table(released, noise)
    if released.periods:
        table += "\n" + "\n".join(reports.recheck_section(
            released, noise, contact_names(snapshot))) + "\n"
    return table


def _stats_problem(args: argparse.Namespace, settings: Settings) -> str | None:
    """Why `jol stats` cannot run, checked before anything is opened or written."""

    from bot import db

    if args.days < 1:
        return "--days must be 1 or more"
    if args.chart:
        chart = Path(args.chart)
        if chart.suffix.lower() != ".png":
            return f"--chart {args.chart}: the chart is a PNG picture; give a name ending in .png"
        if not chart.parent.is_dir():
            return f"--chart {args.chart}: the folder {chart.parent} does not exist"
    sqlite_file = db.sqlite_path(db.parse_database_url(settings.database_url))
    if sqlite_file is not None and not sqlite_file.exists():  # never create an empty file
        return (f"no database at {sqlite_file}: the bot has not counted anything there yet. "
                "Check JOL_DATABASE_URL, or run `jol db upgrade` to create it")
    if asyncio.run(db.schema_version(settings.database_url)) != db.schema_head():
        return ("the database is not migrated to this version of Jol; "
                "run `jol db upgrade` first")
    return None


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    problem = _stats_problem(args, settings)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    snapshot = _load_snapshot(settings.content_dir, settings)
    output = asyncio.run(_stats(args, settings, snapshot))
    try:
        sys.stdout.write(output)
        sys.stdout.flush()
    except BrokenPipeError:  # `jol stats | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def cmd_workspace_link(args: argparse.Namespace, settings: Settings) -> int:
    """Print a one-time sign-in link for an editor (JOL_ADMIN_IDS), as /workspace sends."""
    from bot import db
    from bot.workspace.auth import link_url, make_link_token, workspace_key

    if args.editor not in settings.admin_ids:
        print(f"{args.editor} is not in JOL_ADMIN_IDS: only editors listed there may sign in",
              file=sys.stderr)
        return 2
    secret, _ = db.load_or_create_secret(settings.secret, settings.secret_file,
                                         settings.database_url)
    name = args.name or f"editor {args.editor}"
    token = make_link_token(workspace_key(secret), args.editor, name)
    base = settings.public_url or f"http://{settings.http_host}:{settings.http_port}"
    print(link_url(base, token))
    print("valid for 10 minutes, once", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jol", description="Jol — safe migration bot")
    parser.add_argument("--version", action="version", version=f"jol {version('jol')}")
    # Commands that start python-telegram-bot set uses_ptb (see main).
    parser.set_defaults(uses_ptb=False)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="serve Telegram (long polling, or webhook if set)")
    run.set_defaults(handler=cmd_run, uses_ptb=True)
    chat = commands.add_parser("chat", help="talk to the bot in this terminal, offline")
    chat.add_argument("--lang", help="your phone's language: a code from content/languages.yaml "
                      "(default: ask)")
    chat.set_defaults(handler=cmd_chat, uses_ptb=True)
    doctor = commands.add_parser(
        "doctor", help="check the configuration and say what to fix (changes nothing)")
    doctor.set_defaults(handler=cmd_doctor)

    content = commands.add_parser(
        "content", help="check, list, import, export the content and its versions")
    content_commands = content.add_subparsers(dest="content_command", required=True)
    check = content_commands.add_parser(
        "check", help="validate every content file, of a folder or of a version")
    check.add_argument("dir", nargs="?", help="content folder (default: JOL_CONTENT_DIR)")
    check.add_argument("--version", type=int, metavar="N",
                       help="check content version N in the database instead of a folder")
    check.add_argument("--strict", action="store_true", help="treat warnings as errors")
    check.add_argument("--lang", choices=CHECKER_LANGUAGES, default="ru",
                       help="language of the messages (default: ru)")
    check.set_defaults(handler=cmd_content_check)
    importing = content_commands.add_parser(
        "import", help="publish a folder as a new content version (refused if it has errors)")
    importing.add_argument("dir", nargs="?", help="content folder (default: JOL_CONTENT_DIR)")
    importing.add_argument("--note", help="one line saying what changed")
    importing.add_argument("--lang", choices=CHECKER_LANGUAGES, default="ru",
                           help="language of the problem lines (default: ru)")
    importing.set_defaults(handler=cmd_content_import)
    export = content_commands.add_parser(
        "export", help="write a content version to a folder, byte for byte (for git)")
    export.add_argument("dir", help="the folder; files not in the version are removed")
    export.add_argument("--version", type=int, metavar="N",
                        help="which version (default: the published one)")
    export.set_defaults(handler=cmd_content_export)
    history = content_commands.add_parser(
        "history", help="the content versions, newest (the published one) first")
    history.add_argument("--limit", type=int, default=100, help="how many (default 100)")
    history.set_defaults(handler=cmd_content_history)
    listing = content_commands.add_parser("list", help="list topics")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_content_list)

    search = commands.add_parser("search", help="search topics as the bot does")
    search.add_argument("query", help="the query; '-' reads one query a line from stdin")
    search.add_argument("--lang", default="ru",
                        help="a code from content/languages.yaml (default: ru)")
    search.add_argument("--json", action="store_true")
    search.set_defaults(handler=cmd_search)
    stats = commands.add_parser("stats", help="anonymous counters for NGO staff")
    stats.add_argument("--days", type=int, default=30,
                       help="how many days back, in whole closed weeks (default 30: 5 weeks)")
    stats.add_argument("--csv", action="store_true", help="CSV for spreadsheets on stdout")
    stats.add_argument("--chart", metavar="FILE.png", help="also write a PNG chart")
    stats.add_argument("--gaps", action="store_true",
                       help="words of searches that found nothing (frequent only)")
    stats.set_defaults(handler=cmd_stats)

    database = commands.add_parser("db", help="database maintenance")
    database_commands = database.add_subparsers(dest="db_command", required=True)
    upgrade = database_commands.add_parser("upgrade", help="apply the migrations")
    upgrade.set_defaults(handler=cmd_db_upgrade)

    workspace = commands.add_parser("workspace", help="the editors' web workspace")
    workspace_commands = workspace.add_subparsers(dest="workspace_command", required=True)
    link = workspace_commands.add_parser("link", help="print a one-time sign-in link")
    link.add_argument("--editor", type=int, required=True, help="the editor's Telegram id")
    link.add_argument("--name", help="the name shown in the history (default: editor ID)")
    link.set_defaults(handler=cmd_workspace_link)
    return parser


@contextmanager
def timedelta_durations(wanted: bool) -> Iterator[None]:
    """PTB 22 deprecates int durations (RetryAfter.retry_after and friends) in favour of
    timedelta, and reads PTB_TIMEDELTA at each use; opting in keeps the logs free of its
    deprecation warnings. Only while the command runs: main() also runs inside other
    programs (the tests), whose environment it leaves as it found it."""
    if not wanted or "PTB_TIMEDELTA" in os.environ:  # an operator's own choice stands
        yield
        return
    os.environ["PTB_TIMEDELTA"] = "true"
    try:
        yield
    finally:
        os.environ.pop("PTB_TIMEDELTA", None)


def main(argv: Sequence[str] | None = None) -> int:
    """The `jol` command: parse the arguments, run the command, return its exit code."""
    args = build_parser().parse_args(argv)
    with timedelta_durations(args.uses_ptb):
        return run_command(args)


def run_command(args: argparse.Namespace) -> int:
    """Run one command; an operator's mistake ends in one line on stderr, not a traceback."""
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        if args.command == "doctor":  # the doctor reports it with the rest of its checks
            from bot.doctor import unreadable_settings

            return unreadable_settings(error)
        print(f"{CONFIGURATION_ERROR}{error}", file=sys.stderr)
        return 2
    try:
        result: int = args.handler(args, settings)
    except SettingsError as error:  # a setting that parsed but does not work (database, key)
        print(f"{CONFIGURATION_ERROR}{error}", file=sys.stderr)
        return 2
    except ContentError as error:
        print(content_error_line(error, settings.content_dir), file=sys.stderr)
        return 1
    except Exception as error:
        from bot.db import database_problem

        problem = database_problem(error, settings.database_url)
        if problem is None:
            raise  # a bug, not a setting: keep the traceback (statement values are hidden)
        print(f"{CONFIGURATION_ERROR}{problem}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    raise SystemExit(main())
