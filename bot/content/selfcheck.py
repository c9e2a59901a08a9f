"""The job-offer self-check: questions and scoring read from content/selfcheck.yaml.

NGO staff own the questions, weights and thresholds; the bot only asks and adds up.
Answers: y (yes), n (no), u (don't know). A risky answer adds the question's weight; "don't
know" adds half of it, because not knowing is itself a reason to check.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot import LANGUAGES
from bot.callbacks import TOPIC_ID_RE, check_data
from bot.content.model import Severity

MAX_QUESTIONS = 20  # the answers travel in callback data, one letter each
QUESTION_LIMIT = 300
WHY_LIMIT = 400

Report = Callable[[Path, int, str, Severity], None]


@dataclass(frozen=True)
class Question:
    id: str
    weight: int
    risky: str  # "y" or "n"
    ask: Mapping[str, str]
    ask_family: Mapping[str, str]
    why: Mapping[str, str]


@dataclass(frozen=True)
class Level:
    id: str
    min_score: float
    title: Mapping[str, str]
    advice: Mapping[str, str]


@dataclass(frozen=True)
class Result:
    score: float
    level: Level
    flagged: tuple[Question, ...]  # questions whose answer raised the risk, heaviest first


@dataclass(frozen=True)
class SelfCheck:
    questions: tuple[Question, ...]
    levels: tuple[Level, ...]  # highest min_score first
    next_steps: tuple[str, ...]
    version: str  # travels in callback data, so a button from an older check is "out of date"

    def result(self, answers: str) -> Result:
        score = 0.0
        flagged = []
        for question, answer in zip(self.questions, answers, strict=True):
            if answer == question.risky:
                score += question.weight
                flagged.append(question)
            elif answer == "u":
                score += question.weight / 2
                flagged.append(question)
        level = next(lv for lv in self.levels if score >= lv.min_score)
        flagged.sort(key=lambda q: -q.weight)
        return Result(score, level, tuple(flagged))

    def data(self, answers: str, family: bool) -> str:
        return check_data(f"{self.version}{answers}", family)


def _texts(value: Any) -> dict[str, str] | None:
    if isinstance(value, dict) and all(isinstance(value.get(lang), str) and value[lang].strip()
                                       for lang in LANGUAGES):
        return {lang: value[lang].strip() for lang in LANGUAGES}
    return None


def _lines(node: yaml.Node | None) -> dict[str, int]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(k.value): k.start_mark.line + 1 for k, _ in node.value}


def _items(node: yaml.Node | None, key: str) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value == key and isinstance(v, yaml.SequenceNode):
                return list(v.value)
    return []


def parse_selfcheck(path: Path, topic_ids: set[str], report: Report) -> SelfCheck | None:
    """Parse and validate; None (with problems reported) when it cannot be used."""
    if not path.exists():
        report(path, 1, "selfcheck.yaml is missing: the job-offer check needs it", "error")
        return None
    raw = path.read_bytes()
    try:
        node = yaml.compose(raw.decode("utf-8"), Loader=yaml.SafeLoader)
        data = yaml.safe_load(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        report(path, 1, f"not UTF-8 text ({error.reason}); save the file as UTF-8", "error")
        return None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        report(path, (mark.line + 1) if mark else 1,
               f"broken YAML: {getattr(error, 'problem', None) or error}", "error")
        return None
    if not isinstance(data, dict):
        report(path, 1, "selfcheck.yaml must have 'questions:', 'levels:' and 'next_steps:'",
               "error")
        return None
    top = _lines(node)
    ok = True

    def fail(line: int, message: str) -> None:
        nonlocal ok
        ok = False
        report(path, line, message, "error")

    questions: list[Question] = []
    raw_questions = data.get("questions")
    if not isinstance(raw_questions, list) or not 1 <= len(raw_questions) <= MAX_QUESTIONS:
        fail(top.get("questions", 1), f"'questions:' must list 1 to {MAX_QUESTIONS} questions")
        raw_questions = []
    for item, item_node in zip(raw_questions, _items(node, "questions"), strict=False):
        line = item_node.start_mark.line + 1
        at = _lines(item_node)
        if not isinstance(item, dict):
            fail(line, "each question must be a set of 'field: value' lines")
            continue
        qid = item.get("id")
        if not isinstance(qid, str) or not TOPIC_ID_RE.match(qid):
            fail(line, f"question id {qid!r}: use lowercase latin letters, digits and '-'")
            continue
        if any(q.id == qid for q in questions):
            fail(line, f"question id '{qid}' is used twice")
        weight = item.get("weight")
        if not isinstance(weight, int) or isinstance(weight, bool) or not 1 <= weight <= 3:
            fail(at.get("weight", line), f"question '{qid}': weight must be 1, 2 or 3")
            weight = 1
        risky = item.get("risky")
        # YAML reads a bare yes/no as true/false; both spellings mean the same here.
        risky_answer = {True: "y", False: "n", "yes": "y", "no": "n"}.get(risky)
        if risky_answer is None:
            fail(at.get("risky", line), f"question '{qid}': risky must be yes or no")
            risky_answer = "y"
        texts: dict[str, dict[str, str]] = {}
        for key, limit in (("ask", QUESTION_LIMIT), ("ask_family", QUESTION_LIMIT),
                           ("why", WHY_LIMIT)):
            value = _texts(item.get(key))
            if value is None:
                fail(at.get(key, line), f"question '{qid}': {key} needs ky and ru texts")
                value = {lang: "" for lang in LANGUAGES}
            for lang, text in value.items():
                if len(text) > limit:
                    fail(at.get(key, line), f"question '{qid}': {key} ({lang}) is {len(text)} "
                         f"characters; at most {limit}")
            texts[key] = value
        sources = item.get("sources")
        if not isinstance(sources, list) or not sources:
            fail(at.get("sources", line), f"question '{qid}': sources are required")
        questions.append(Question(qid, weight, risky_answer, texts["ask"], texts["ask_family"],
                                  texts["why"]))

    levels: list[Level] = []
    raw_levels = data.get("levels")
    if not isinstance(raw_levels, list) or not raw_levels:
        fail(top.get("levels", 1), "'levels:' must list the risk levels")
        raw_levels = []
    for item, item_node in zip(raw_levels, _items(node, "levels"), strict=False):
        line = item_node.start_mark.line + 1
        if not isinstance(item, dict):
            fail(line, "each level must be a set of 'field: value' lines")
            continue
        lid, minimum = item.get("id"), item.get("min_score")
        title, advice = _texts(item.get("title")), _texts(item.get("advice"))
        if not isinstance(lid, str) or not TOPIC_ID_RE.match(lid):
            fail(line, f"level id {lid!r}: use lowercase latin letters, digits and '-'")
        elif not isinstance(minimum, int | float) or isinstance(minimum, bool) or minimum < 0:
            fail(line, f"level '{lid}': min_score must be a number ≥ 0")
        elif title is None or advice is None:
            fail(line, f"level '{lid}': title and advice need ky and ru texts")
        else:
            levels.append(Level(lid, float(minimum), title, advice))
    if levels and min(lv.min_score for lv in levels) != 0:
        fail(top.get("levels", 1), "one level must have min_score: 0, so every score has one")
    if len({lv.min_score for lv in levels}) != len(levels):
        fail(top.get("levels", 1), "two levels have the same min_score")

    next_steps = data.get("next_steps") or []
    if not isinstance(next_steps, list) or not all(isinstance(t, str) for t in next_steps):
        fail(top.get("next_steps", 1), "next_steps must be a list of topic ids")
        next_steps = []
    for topic_id in next_steps:
        if topic_id not in topic_ids:
            fail(top.get("next_steps", 1), f"next step '{topic_id}' is not a topic")

    if not ok:
        return None
    version = hashlib.sha256(raw).hexdigest()[:4]
    return SelfCheck(tuple(questions), tuple(sorted(levels, key=lambda lv: -lv.min_score)),
                     tuple(next_steps), version)
