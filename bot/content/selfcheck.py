"""The job-offer self-check: destinations, questions, scoring and test cases from selfcheck.yaml.

NGO staff own all of it; the bot only asks and adds up. The first question is where the job is;
each destination then asks only the questions that apply to it (`applies_to` / `except`), so a
worker going to Russia is never asked about a visa.

Scoring, as editors read it in the yaml:
- a risky answer adds the question's weight; "don't know" adds a share of it (`dont_know`);
- a risky answer to a `strong` question gives the highest level on its own;
- "don't know" answers alone never lift the level above `dont_know_up_to` (so a legal worker
  who is unsure of a detail is told to check, not that it is a trafficking case).
The `cases:` (answers → expected level) run at every load; a mismatch is a located error, so a
change of weights can never silently turn a trafficking pattern "low".
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from bot.buttons import CHECK_MAX_ANSWERS, TOPIC_ID_RE, CheckButton, FamilyCheckButton
from bot.content.yamlfile import Located, read_yaml
from bot.languages import Languages

DESTINATION_CODES = "0123456789abcdefghijklmnopqrstuvwxyz"  # one character in callback data
QUESTION_LIMIT = 300
WHY_LIMIT = 300
ADVICE_LIMIT = 700
NAME_LIMIT = 30  # two destination buttons share a row on a phone
REASONS_LIMIT = 3800  # the "all reasons" screen: a message holds 4096, leave room for a heading
# YAML reads a bare yes/no as true/false; both spellings mean the same here.
ANSWER_WORDS: dict[object, str] = {True: "y", False: "n", "yes": "y", "no": "n", "dont-know": "u"}

Report = Callable[..., None]  # the loader's reporter: (path, line, message, severity, **values)

# The fields each part of the file may have; any other is reported (likely a typo, such as
# "strog: yes", that would otherwise be ignored without a word).
FIELDS = {
    "file": {"destinations", "scoring", "questions", "levels", "next_steps", "cases"},
    "destination": {"id", "name"},
    "scoring": {"dont_know", "dont_know_up_to"},
    "question": {"id", "applies_to", "except", "weight", "risky", "strong", "ask", "ask_family",
                 "why", "why_family", "sources"},
    "level": {"id", "min_score", "title", "advice", "advice_family"},
    "case": {"name", "destination", "answers", "rest", "expect"},
}


@dataclass(frozen=True)
class Question:
    id: str
    weight: int
    risky: str  # "y" or "n"
    strong: bool  # a risky answer is enough for the highest level
    ask: Mapping[str, str]
    ask_family: Mapping[str, str]
    why: Mapping[str, str]
    why_family: Mapping[str, str]  # the reason told to a relative; the same as `why` if not set

    @property
    def safe(self) -> str:
        return "n" if self.risky == "y" else "y"


@dataclass(frozen=True)
class Destination:
    id: str
    code: str  # its character in callback data
    name: Mapping[str, str]
    questions: tuple[Question, ...]  # in the order they are asked


@dataclass(frozen=True)
class Level:
    id: str
    min_score: float
    title: Mapping[str, str]
    advice: Mapping[str, str]
    advice_family: Mapping[str, str]  # written to the relative: what to ask, how to check


@dataclass(frozen=True)
class Reason:
    question: Question
    answer: str  # the risky answer, or "u"
    points: float

    @property
    def strong(self) -> bool:
        return self.question.strong and self.answer == self.question.risky


@dataclass(frozen=True)
class Result:
    score: float
    level: Level
    reasons: tuple[Reason, ...]  # strongest first: strong signs, risky answers, "don't know"


@dataclass(frozen=True)
class SelfCheck:
    destinations: tuple[Destination, ...]
    levels: tuple[Level, ...]  # highest min_score first
    dont_know: float  # the share of a question's weight that "don't know" adds
    dont_know_up_to: Level  # the highest level "don't know" answers can reach by themselves
    next_steps: tuple[str, ...]
    version: str  # travels in callback data, so a button from an older check is "out of date"

    def destination(self, code: str) -> Destination | None:
        return next((d for d in self.destinations if d.code == code), None)

    def level_for(self, score: float) -> Level:
        return next(lv for lv in self.levels if score >= lv.min_score)

    def result(self, destination: Destination, answers: str) -> Result:
        reasons = []
        for question, answer in zip(destination.questions, answers, strict=True):
            if answer == question.risky:
                reasons.append(Reason(question, answer, float(question.weight)))
            elif answer == "u":
                reasons.append(Reason(question, answer, question.weight * self.dont_know))
        risky = sum(r.points for r in reasons if r.answer != "u")
        score = sum(r.points for r in reasons)
        level = self.level_for(score)
        if any(r.strong for r in reasons):
            level = self.levels[0]
        elif level.min_score > self.dont_know_up_to.min_score:
            # "Don't know" may lift the level only up to dont_know_up_to.
            level = max(self.level_for(risky), self.dont_know_up_to, key=lambda lv: lv.min_score)
        ordered = sorted(reasons, key=lambda r: (not r.strong, r.answer == "u", -r.points))
        return Result(score, level, tuple(ordered))

    def button(self, family: bool, destination: Destination | None = None, answers: str = "",
               view: str = "") -> CheckButton:
        """The button of a step of this version of the check."""
        kind = FamilyCheckButton if family else CheckButton
        return kind(self.version, destination.code if destination else "", answers, view)


def _read_yaml(path: str, read: str | Located,
               report: Report) -> tuple[Any, yaml.Node | None, str] | None:
    """The file's data, its node tree (for line numbers) and its text; None, reported, when
    unreadable (the loader's safe YAML: no aliases, depth and size capped)."""
    parsed = read_yaml(read) if isinstance(read, str) else read
    if isinstance(parsed, Located):
        report(path, parsed.line, parsed.message, "error", **parsed.values)
        return None
    assert isinstance(read, str)
    data, node = parsed
    return data, node, read


def _per_language(value: Any, languages: Languages) -> dict[str, str] | None:
    """A text in every full language; a partial language without its own gets its fallback's."""
    if not isinstance(value, dict) or not all(
            isinstance(value.get(lang), str) and value[lang].strip() for lang in languages.full):
        return None
    return {lang: next(value[c].strip() for c in languages.chain(lang)
                       if isinstance(value.get(c), str) and value[c].strip())
            for lang in languages.codes}


def _lines(node: yaml.Node | None) -> dict[str, int]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(k.value): k.start_mark.line + 1 for k, _ in node.value}


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        return next((v for k, v in node.value if k.value == key), None)
    return None


def _items(node: yaml.Node | None, key: str) -> list[yaml.Node]:
    child = _child(node, key)
    return list(child.value) if isinstance(child, yaml.SequenceNode) else []


def _answer(value: object) -> str | None:
    """"y", "n" or "u" for yes / no / dont-know; None for anything else."""
    return ANSWER_WORDS.get(value) if isinstance(value, bool | str) else None


def _entries(data: dict[str, Any], node: yaml.Node | None,
             key: str) -> list[tuple[Any, int, dict[str, int]]]:
    """(item, its line, the lines of its keys) for each item of a top-level list."""
    items = data.get(key)
    if not isinstance(items, list):
        return []
    return [(item, n.start_mark.line + 1, _lines(n))
            for item, n in zip(items, _items(node, key), strict=False)]


def parse_selfcheck(path: str, text: str | Located | None, topic_ids: set[str],
                    report: Report, languages: Languages) -> SelfCheck | None:
    """Parse, validate and run the test cases; None (with problems reported) when unusable.
    `text` is the file's text (None: no such file), as bot/content/loader.py gives it."""
    if text is None:
        report(path, 1, "selfcheck.yaml is missing: the job-offer check needs it", "error")
        return None
    read = _read_yaml(path, text, report)
    if read is None:
        return None
    data, node, file_text = read
    if not isinstance(data, dict):
        report(path, 1, "selfcheck.yaml must have 'destinations:', 'questions:', 'scoring:', "
               "'levels:', 'next_steps:' and 'cases:'", "error")
        return None
    top = _lines(node)
    ok = True

    def fail(line: int, message: str) -> None:
        nonlocal ok
        ok = False
        report(path, line, message, "error")

    def unknown_fields(part: str, item: Any, lines: dict[str, int], line: int) -> None:
        if isinstance(item, dict):
            for key in sorted(set(map(str, item)) - FIELDS[part]):
                report(path, lines.get(key, line), f"unknown field '{key}' in a {part}; "
                       f"known: {', '.join(sorted(FIELDS[part]))}", "warning")

    unknown_fields("file", data, top, 1)
    for part, key in (("destination", "destinations"), ("question", "questions"),
                      ("level", "levels"), ("case", "cases")):
        for item, line, lines in _entries(data, node, key):
            unknown_fields(part, item, lines, line)
    unknown_fields("scoring", data.get("scoring"), _lines(_child(node, "scoring")),
                   top.get("scoring", 1))

    # Destinations: the first question, "where is the job?"
    destination_ids: list[str] = []
    destination_names: dict[str, dict[str, str]] = {}
    destination_lines: dict[str, int] = {}
    entries = _entries(data, node, "destinations")
    if not 2 <= len(entries) <= len(DESTINATION_CODES):
        fail(top.get("destinations", 1),
             f"'destinations:' must list 2 to {len(DESTINATION_CODES)} places where a job can be")
    for item, line, _ in entries:
        did = item.get("id") if isinstance(item, dict) else None
        name = _per_language(item.get("name"), languages) if isinstance(item, dict) else None
        if not isinstance(did, str) or not TOPIC_ID_RE.match(did):
            fail(line, f"destination id {did!r}: use lowercase latin letters, digits and '-'")
        elif did in destination_names:
            fail(line, f"destination id '{did}' is used twice")
        elif name is None:
            fail(line, f"destination '{did}': name needs ky and ru texts")
        elif any(len(text) > NAME_LIMIT for text in name.values()):
            fail(line, f"destination '{did}': a name may have at most {NAME_LIMIT} characters "
                 "(it is a button)")
        else:
            destination_ids.append(did)
            destination_names[did] = name
            destination_lines[did] = line

    # Questions, each with the destinations it applies to.
    questions: list[tuple[Question, frozenset[str]]] = []
    entries = _entries(data, node, "questions")
    if not entries:
        fail(top.get("questions", 1), "'questions:' must list the questions")
    for item, line, at in entries:
        if not isinstance(item, dict):
            fail(line, "each question must be a set of 'field: value' lines")
            continue
        qid = item.get("id")
        if not isinstance(qid, str) or not TOPIC_ID_RE.match(qid):
            fail(line, f"question id {qid!r}: use lowercase latin letters, digits and '-'")
            continue
        if any(q.id == qid for q, _ in questions):
            fail(line, f"question id '{qid}' is used twice")
        weight = item.get("weight")
        if not isinstance(weight, int) or isinstance(weight, bool) or not 1 <= weight <= 3:
            fail(at.get("weight", line), f"question '{qid}': weight must be 1, 2 or 3")
            weight = 1
        risky = _answer(item.get("risky"))
        if risky not in ("y", "n"):
            fail(at.get("risky", line), f"question '{qid}': risky must be yes or no")
            risky = "y"
        strong = item.get("strong", False)
        if not isinstance(strong, bool):
            fail(at.get("strong", line), f"question '{qid}': strong must be yes or no")
            strong = False
        applies = _applies_to(item, destination_ids)
        if isinstance(applies, str):
            fail(at.get("applies_to", at.get("except", line)), f"question '{qid}': {applies}")
            applies = frozenset()
        wording: dict[str, dict[str, str]] = {}
        for key, limit in (("ask", QUESTION_LIMIT), ("ask_family", QUESTION_LIMIT),
                           ("why", WHY_LIMIT), ("why_family", WHY_LIMIT)):
            value = _per_language(item.get(key), languages)
            if value is None and key == "why_family" and "why_family" not in item:
                value = wording["why"]
            elif value is None:
                fail(at.get(key, line), f"question '{qid}': {key} needs ky and ru texts")
                value = {lang: "" for lang in languages.codes}
            for lang, text in value.items():
                if len(text) > limit:
                    fail(at.get(key, line), f"question '{qid}': {key} ({lang}) is {len(text)} "
                         f"characters; at most {limit}")
            wording[key] = value
        sources = item.get("sources")
        if not isinstance(sources, list) or not sources:
            fail(at.get("sources", line), f"question '{qid}': sources are required")
        questions.append((Question(qid, weight, risky, strong, wording["ask"],
                                   wording["ask_family"], wording["why"], wording["why_family"]),
                          applies))

    destinations = []
    for code, did in zip(DESTINATION_CODES, destination_ids, strict=False):
        asked = tuple(q for q, applies in questions if did in applies)
        if not 1 <= len(asked) <= CHECK_MAX_ANSWERS:
            fail(destination_lines[did], f"destination '{did}' has {len(asked)} questions; "
                 f"it needs 1 to {CHECK_MAX_ANSWERS}")
        for lang in languages.codes:
            length = sum(max(len(q.why[lang]), len(q.why_family[lang])) + 3 for q in asked)
            if length > REASONS_LIMIT:
                fail(destination_lines[did], f"destination '{did}': all its reasons ({lang}) "
                     f"are {length} characters; one message holds about {REASONS_LIMIT}")
        destinations.append(Destination(did, code, destination_names[did], asked))

    levels: list[Level] = []
    entries = _entries(data, node, "levels")
    if not entries:
        fail(top.get("levels", 1), "'levels:' must list the risk levels")
    for item, line, _ in entries:
        if not isinstance(item, dict):
            fail(line, "each level must be a set of 'field: value' lines")
            continue
        lid, minimum = item.get("id"), item.get("min_score")
        level_wording = {key: _per_language(item.get(key), languages)
                       for key in ("title", "advice", "advice_family")}
        if not isinstance(lid, str) or not TOPIC_ID_RE.match(lid):
            fail(line, f"level id {lid!r}: use lowercase latin letters, digits and '-'")
        elif not isinstance(minimum, int | float) or isinstance(minimum, bool) or minimum < 0:
            fail(line, f"level '{lid}': min_score must be a number ≥ 0")
        elif any(value is None for value in level_wording.values()):
            fail(line, f"level '{lid}': title, advice and advice_family need ky and ru texts")
        elif any(len(text) > ADVICE_LIMIT for key in ("advice", "advice_family")
                 for text in (level_wording[key] or {}).values()):
            fail(line, f"level '{lid}': advice may have at most {ADVICE_LIMIT} characters")
        else:
            wording = {key: value or {} for key, value in level_wording.items()}
            levels.append(Level(lid, float(minimum), wording["title"], wording["advice"],
                                wording["advice_family"]))
    levels.sort(key=lambda lv: -lv.min_score)
    if levels and levels[-1].min_score != 0:
        fail(top.get("levels", 1), "one level must have min_score: 0, so every score has one")
    if len({lv.min_score for lv in levels}) != len(levels):
        fail(top.get("levels", 1), "two levels have the same min_score")

    scoring = data.get("scoring")
    at = _lines(_child(node, "scoring"))
    scoring_line = top.get("scoring", 1)
    if not isinstance(scoring, dict):
        fail(scoring_line, "'scoring:' needs dont_know (a share of the weight, 0 to 1) and "
             "dont_know_up_to (a level id)")
        scoring = {}
    dont_know = scoring.get("dont_know", 0.5)
    if not isinstance(dont_know, int | float) or isinstance(dont_know, bool) or not (
            0 <= dont_know <= 1):
        fail(at.get("dont_know", scoring_line), "dont_know must be a share from 0 to 1, e.g. 0.5")
        dont_know = 0.5
    cap = next((lv for lv in levels if lv.id == scoring.get("dont_know_up_to")), None)
    if levels and (cap is None or cap is levels[0]):
        fail(at.get("dont_know_up_to", scoring_line), "dont_know_up_to must name a level below "
             f"'{levels[0].id}': 'don't know' alone must never give the highest level")

    next_steps = data.get("next_steps") or []
    if not isinstance(next_steps, list) or not all(isinstance(t, str) for t in next_steps):
        fail(top.get("next_steps", 1), "next_steps must be a list of topic ids")
        next_steps = []
    for topic_id in next_steps:
        if topic_id not in topic_ids:
            fail(top.get("next_steps", 1), f"next step '{topic_id}' is not a topic")

    if not ok or cap is None:
        return None
    version = hashlib.sha256(file_text.encode()).hexdigest()[:4]
    check = SelfCheck(tuple(destinations), tuple(levels), float(dont_know), cap,
                      tuple(next_steps), version)
    cases = _entries(data, node, "cases")
    if not cases:
        fail(top.get("cases", 1), "'cases:' must list test cases (answers → expected level), "
             "so a change of weights cannot silently lower a dangerous offer's level")
    for item, line, _ in cases:
        problem = _run_case(check, item)
        if problem:
            fail(line, problem)
    return check if ok else None


def _applies_to(item: dict[str, Any], destination_ids: list[str]) -> frozenset[str] | str:
    """The destinations a question is asked for, or what is wrong with its declaration."""
    applies, excepted = item.get("applies_to"), item.get("except")
    if (applies is None) == (excepted is None):
        return "say where it is asked: 'applies_to: all', 'applies_to: [ru, kz]' or 'except: [ru]'"
    listed = excepted if applies is None else applies
    if applies == "all":
        return frozenset(destination_ids)
    if not isinstance(listed, list) or not listed:
        return "applies_to / except must be 'all' or a list of destination ids"
    unknown = [d for d in listed if d not in destination_ids]
    if unknown:
        return f"unknown destination {unknown[0]!r} in applies_to / except"
    if applies is None:
        return frozenset(d for d in destination_ids if d not in listed)
    return frozenset(listed)


def _run_case(check: SelfCheck, item: Any) -> str | None:
    """Run one test case; the problem in one sentence, or None when it passes."""
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        return "each case needs a name, a destination, answers and expect"
    name = item["name"]
    destination = next((d for d in check.destinations if d.id == item.get("destination")), None)
    if destination is None:
        return f"case '{name}': destination {item.get('destination')!r} is not in destinations"
    rest = item.get("rest", "safe")
    rest = rest if rest == "safe" else _answer(rest)
    if rest is None:
        return f"case '{name}': rest must be safe, yes, no or dont-know"
    answers = item.get("answers") or {}
    if not isinstance(answers, dict):
        return f"case '{name}': answers must be 'question-id: yes|no|dont-know' lines"
    asked = {q.id for q in destination.questions}
    for qid, answer in answers.items():
        if qid not in asked:
            return f"case '{name}': question '{qid}' is not asked for '{destination.id}'"
        if _answer(answer) is None:
            return f"case '{name}': answer to '{qid}' must be yes, no or dont-know"
    letters = "".join(
        _answer(answers[q.id]) or "" if q.id in answers else q.safe if rest == "safe" else rest
        for q in destination.questions)
    expect = item.get("expect")
    if all(lv.id != expect for lv in check.levels):
        return f"case '{name}': expect must be one of " + ", ".join(lv.id for lv in check.levels)
    result = check.result(destination, letters)
    if result.level.id != expect:
        return (f"case '{name}' expects {expect}, got {result.level.id} "
                f"(score {result.score:g})")
    return None
