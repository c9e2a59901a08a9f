"""The job-offer self-check (/check): where is the job, then that country's yes / no / don't
know questions, then a risk level with its strongest reasons.

All state travels in the callback data (bot.buttons.CheckButton), so any replica can answer any
step and nothing about the person is kept. Only completions are counted: by risk level, and
separately by destination (two unlinked counters, so neither can single a person out).
"""

from __future__ import annotations

import html

from telegram import Update

from bot import events
from bot.buttons import CheckButton, TopicButton
from bot.content.selfcheck import Destination, Reason, SelfCheck
from bot.context import JolContext
from bot.handlers.screens import (
    ButtonHandler,
    Keyboard,
    button,
    nav_row,
    out_of_date,
    show,
)

SHORT_REASONS = 3  # the result shows this many; "all reasons" shows the rest
ALL_REASONS = "*"
RESULT_AGAIN = "<"  # back from "all reasons": the same result, not counted again


def _escape(text: str) -> str:
    return html.escape(text, quote=False)


def _heading(context: JolContext, family: bool) -> str:
    texts = context.texts
    return "<b>" + _escape(texts("Check a relative's job offer") if family
                           else texts("Check a job offer")) + "</b>"


def destination_screen(context: JolContext, check: SelfCheck,
                       family: bool) -> tuple[str, Keyboard]:
    texts = context.texts
    ask = texts("Where is your relative's job?") if family else texts("Where is the job?")
    buttons = [button(d.name[texts.lang], check.button(family, d)) for d in check.destinations]
    keyboard: Keyboard = [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
    keyboard.append(nav_row(texts, back=None))
    return f"{_heading(context, family)}\n\n{_escape(ask)}", keyboard


def question_screen(context: JolContext, check: SelfCheck, destination: Destination,
                    answers: str, family: bool) -> tuple[str, Keyboard]:
    texts = context.texts
    lang = texts.lang
    question = destination.questions[len(answers)]
    ask = question.ask_family if family else question.ask
    text = (f"{_heading(context, family)}\n{_escape(destination.name[lang])} · "
            + texts("Question {n} of {total}", n=len(answers) + 1,
                    total=len(destination.questions))
            + f"\n\n{_escape(ask[lang])}")

    def step(answer: str) -> CheckButton:
        return check.button(family, destination, answers + answer)

    keyboard: Keyboard = [[button(texts("Yes"), step("y")), button(texts("No"), step("n")),
                           button(texts("Don't know"), step("u"))]]
    # Back from the first question returns to "where is the job?".
    back = check.button(family, destination, answers[:-1]) if answers else check.button(family)
    keyboard.append([button("⬅️ " + texts("Back"), back)])
    keyboard.append(nav_row(texts, back=None))
    return text, keyboard


def _reason_lines(context: JolContext, reasons: tuple[Reason, ...], family: bool) -> str:
    """One line per reason: ❗ a strong sign, • a risky answer, ❔ "don't know"."""
    lang = context.texts.lang
    marks = {True: "❗", False: "•"}
    return "\n".join(
        f"{'❔' if r.answer == 'u' else marks[r.strong]} "
        f"{_escape((r.question.why_family if family else r.question.why)[lang])}"
        for r in reasons)


def result_screen(context: JolContext, check: SelfCheck, destination: Destination,
                  answers: str, family: bool) -> tuple[str, Keyboard]:
    texts = context.texts
    lang = texts.lang
    result = check.result(destination, answers)
    icon = ("🔴" if result.level is check.levels[0]
            else "🟢" if result.level is check.levels[-1] else "🟡")
    advice = result.level.advice_family if family else result.level.advice
    parts = [f"{icon} <b>{_escape(result.level.title[lang])}</b>", _escape(advice[lang])]
    if result.reasons:
        parts.append(f"<b>{_escape(texts('Main reasons:'))}</b>\n"
                     + _reason_lines(context, result.reasons[:SHORT_REASONS], family))
    keyboard: Keyboard = []
    if len(result.reasons) > SHORT_REASONS:
        keyboard.append([button("📋 " + texts("All reasons ({n})", n=len(result.reasons)),
                                check.button(family, destination, answers, ALL_REASONS))])
    for topic_id in check.next_steps:
        topic = context.content.topic(lang, topic_id)
        if topic is not None:
            keyboard.append([button("➡️ " + topic.title, TopicButton(topic.id))])
    keyboard.append([button("🔁 " + texts("Check another offer"), check.button(family))])
    keyboard.append(nav_row(texts, back=None))
    return "\n\n".join(parts), keyboard


def all_reasons_screen(context: JolContext, check: SelfCheck, destination: Destination,
                       answers: str, family: bool) -> tuple[str, Keyboard]:
    texts = context.texts
    result = check.result(destination, answers)
    text = (f"<b>{_escape(texts('All reasons:'))}</b>\n"
            + _reason_lines(context, result.reasons, family))
    back = check.button(family, destination, answers, RESULT_AGAIN)
    return text, [[button("⬅️ " + texts("Back"), back)], nav_row(texts, back=None)]


def _current_step(check: SelfCheck, pressed: CheckButton,
                  destination: Destination | None) -> bool:
    """Whether a pressed step belongs to this version of the check and could have been sent."""
    if pressed.version != check.version:
        return False
    if not pressed.destination:
        return True
    if destination is None or len(pressed.answers) > len(destination.questions):
        return False
    return not pressed.view or len(pressed.answers) == len(destination.questions)


async def check_command(update: Update, context: JolContext) -> None:
    await show(update, context, *destination_screen(context, context.content.selfcheck, False))


async def check_pressed(update: Update, context: JolContext, pressed: CheckButton) -> None:
    check = context.content.selfcheck
    destination = check.destination(pressed.destination)
    if not _current_step(check, pressed, destination):
        await out_of_date(update, context)  # a step of an older version of the questions
        return
    family = pressed.family
    answers = pressed.answers
    if destination is None:
        screen = destination_screen(context, check, family)
    elif len(answers) < len(destination.questions):
        screen = question_screen(context, check, destination, answers, family)
    elif pressed.view == ALL_REASONS:
        screen = all_reasons_screen(context, check, destination, answers, family)
    else:
        if not pressed.view:
            level = check.result(destination, answers).level
            context.count(events.FAMILY_CHECK if family else events.CHECK, level.id)
            context.count(events.CHECK_DESTINATION, destination.id)
        screen = result_screen(context, check, destination, answers, family)
    await show(update, context, *screen)


PRESSES = (ButtonHandler(CheckButton, check_pressed),)  # FamilyCheckButton is a CheckButton
