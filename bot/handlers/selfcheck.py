"""The job-offer self-check (/check): yes / no / don't know questions, then a risk level.

All state travels in the callback data (see bot.callbacks), so any replica can answer any
step and nothing about the person is kept. Only completions are counted, by risk level.
"""

from __future__ import annotations

import html

from telegram import Update

from bot import callbacks
from bot.content.selfcheck import SelfCheck
from bot.context import JolContext
from bot.handlers.screens import (
    Keyboard,
    button,
    nav_row,
    show,
    show_main_menu,
)


def question_screen(context: JolContext, check: SelfCheck, answers: str,
                    family: bool) -> tuple[str, Keyboard]:
    texts = context.texts
    lang = texts.lang
    question = check.questions[len(answers)]
    heading = texts("Check a relative's job offer") if family else texts("Check a job offer")
    ask = question.ask_family if family else question.ask
    text = (f"<b>{html.escape(heading, quote=False)}</b>\n"
            + texts("Question {n} of {total}", n=len(answers) + 1, total=len(check.questions))
            + f"\n\n{html.escape(ask[lang], quote=False)}")
    keyboard: Keyboard = [[
        button(texts("Yes"), check.data(answers + "y", family)),
        button(texts("No"), check.data(answers + "n", family)),
        button(texts("Don't know"), check.data(answers + "u", family)),
    ]]
    if answers:
        keyboard.append([button("⬅️ " + texts("Back"), check.data(answers[:-1], family))])
    keyboard.append(nav_row(texts, back=None))
    return text, keyboard


def result_screen(context: JolContext, check: SelfCheck, answers: str,
                  family: bool) -> tuple[str, Keyboard]:
    texts = context.texts
    lang = texts.lang
    result = check.result(answers)
    ordered = sorted(check.levels, key=lambda lv: lv.min_score)
    icon = "🟢" if result.level is ordered[0] else "🔴" if result.level is ordered[-1] else "🟡"
    parts = [f"{icon} <b>{html.escape(result.level.title[lang], quote=False)}</b>",
             html.escape(result.level.advice[lang], quote=False)]
    if result.flagged:
        reasons = "\n".join(f"• {html.escape(q.why[lang], quote=False)}"
                            for q in result.flagged)
        parts.append(f"<b>{html.escape(texts('What raised the risk:'), quote=False)}</b>\n"
                     f"{reasons}")
    keyboard: Keyboard = []
    for topic_id in check.next_steps:
        topic = context.content.topic(lang, topic_id)
        if topic is not None:
            keyboard.append([button("➡️ " + topic.title, callbacks.topic_data(topic.id))])
    keyboard.append([button("🔁 " + texts("Check another offer"), check.data("", family))])
    keyboard.append(nav_row(texts, back=None))
    return "\n\n".join(parts), keyboard


async def check_step(update: Update, context: JolContext, answers: str, family: bool) -> None:
    check = context.content.selfcheck
    if len(answers) == len(check.questions):
        result = check.result(answers)
        context.count("family_check" if family else "check", result.level.id)
        await show(update, context, *result_screen(context, check, answers, family))
    else:
        await show(update, context, *question_screen(context, check, answers, family))


async def check_command(update: Update, context: JolContext) -> None:
    await check_step(update, context, "", family=False)


async def check_button(update: Update, context: JolContext) -> None:
    parsed = callbacks.parse(update.callback_query.data if update.callback_query else None)
    check = context.content.selfcheck
    if parsed is None or parsed.version != check.version or (
            len(parsed.answers) > len(check.questions)):
        # A step of an older version of the questions, or forged.
        await show_main_menu(update, context, context.texts("This button is out of date."))
        return
    await check_step(update, context, parsed.answers, family=parsed.action == "fq")


def is_check_button(data: object) -> bool:
    return isinstance(data, str) and data.startswith(("q:", "fq:"))
