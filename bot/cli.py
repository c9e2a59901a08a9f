"""The `jol` command: parses arguments and calls into the package; nothing else lives here."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bot import LANGUAGES
from bot.content.loader import load_content
from bot.content.model import ContentSnapshot
from bot.settings import Settings, SettingsError


def _load_or_exit(content_dir: Path, settings: Settings) -> ContentSnapshot:
    snapshot, problems = load_content(content_dir, stale_after_days=settings.stale_after_days)
    if snapshot is None:
        for problem in problems:
            if problem.severity == "error":
                print(problem, file=sys.stderr)
        print(f"content in {content_dir} has errors; run `jol content check`", file=sys.stderr)
        raise SystemExit(1)
    return snapshot


def cmd_content_check(args: argparse.Namespace, settings: Settings) -> int:
    content_dir = Path(args.dir) if args.dir else settings.content_dir
    snapshot, problems = load_content(content_dir, stale_after_days=settings.stale_after_days)
    for problem in problems:
        print(problem)
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    if snapshot is not None:
        topics = len(snapshot.topic_ids())
        print(f"{topics} topics in {len(LANGUAGES)} languages, {len(snapshot.contacts)} contacts: "
              f"{errors} errors, {warnings} warnings")
    else:
        print(f"{errors} errors, {warnings} warnings: content NOT loadable")
    if errors or (args.strict and warnings):
        if args.strict and warnings and not errors:
            print("--strict: warnings count as errors")
        return 1
    return 0


def cmd_content_list(args: argparse.Namespace, settings: Settings) -> int:
    snapshot = _load_or_exit(settings.content_dir, settings)
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
    snapshot = _load_or_exit(settings.content_dir, settings)
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
    from bot.chat import chat

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

    asyncio.run(db.upgrade(settings.database_url))
    print("database is up to date")
    return 0


async def _stats(args: argparse.Namespace, settings: Settings) -> None:
    from bot import db
    from bot.stats import reports

    engine = db.create_engine(settings.database_url)
    try:
        rows = await reports.load_counts(engine, days=args.days)
    finally:
        await engine.dispose()
    minimum = settings.min_report_count
    if args.csv:
        sys.stdout.write(reports.to_csv(rows, minimum))
    elif args.gaps:
        gaps = reports.gap_words(rows, minimum=max(minimum, 5))
        print("\n".join(f"{count:6}  {word}" for word, count in gaps) or
              "no word was searched in vain 5 times or more")
    else:
        print(reports.summary_table(rows, minimum))
    if args.chart:
        snapshot, _ = load_content(settings.content_dir)
        titles = {t.id: t.title for t in snapshot.topics.values()
                  if t.lang == "ru"} if snapshot else None
        reports.chart_png(rows, args.chart, minimum=minimum, titles=titles)
        print(f"chart written to {args.chart}", file=sys.stderr)


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    if args.days < 1:
        print("--days must be 1 or more", file=sys.stderr)
        return 2
    asyncio.run(_stats(args, settings))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jol", description="Jol — safe migration bot")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="serve Telegram (long polling, or webhook if set)")
    run.set_defaults(handler=cmd_run)
    chat = commands.add_parser("chat", help="talk to the bot in this terminal, offline")
    chat.add_argument("--lang", choices=LANGUAGES, help="your phone's language (default: ask)")
    chat.set_defaults(handler=cmd_chat)

    content = commands.add_parser("content", help="check or list the content")
    content_commands = content.add_subparsers(dest="content_command", required=True)
    check = content_commands.add_parser("check", help="validate every content file")
    check.add_argument("dir", nargs="?", help="content folder (default: JOL_CONTENT_DIR)")
    check.add_argument("--strict", action="store_true", help="treat warnings as errors")
    check.set_defaults(handler=cmd_content_check)
    listing = content_commands.add_parser("list", help="list topics")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_content_list)

    search = commands.add_parser("search", help="search topics as the bot does")
    search.add_argument("query", help="the query; '-' reads one query a line from stdin")
    search.add_argument("--lang", choices=LANGUAGES, default="ru")
    search.add_argument("--json", action="store_true")
    search.set_defaults(handler=cmd_search)
    stats = commands.add_parser("stats", help="anonymous counters for NGO staff")
    stats.add_argument("--days", type=int, default=30, help="how many days back (default 30)")
    stats.add_argument("--csv", action="store_true", help="CSV for spreadsheets on stdout")
    stats.add_argument("--chart", metavar="FILE.png", help="also write a PNG chart")
    stats.add_argument("--gaps", action="store_true",
                       help="words of searches that found nothing (seen 5+ times)")
    stats.set_defaults(handler=cmd_stats)

    database = commands.add_parser("db", help="database maintenance")
    database_commands = database.add_subparsers(dest="db_command", required=True)
    upgrade = database_commands.add_parser("upgrade", help="apply the migrations")
    upgrade.set_defaults(handler=cmd_db_upgrade)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # PTB 22 deprecates int durations (RetryAfter.retry_after and friends) in favour of
    # timedelta; opting in now keeps the logs free of its deprecation warnings.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    result: int = args.handler(args, settings)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
