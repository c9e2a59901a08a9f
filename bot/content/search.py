"""Full-text search over topics in both languages, tolerant of how people type on a phone.

Every word is reduced to a Latin "skeleton": Cyrillic is transliterated, Kyrgyz ң ө ү fold into
н о у, spelling variants (zh/j, kh/h, y/i, doubled letters) collapse. So "pasport", "паспорт" and
"паспортумду" meet, and "rabota v rossii" finds "работа в России". A query word then matches an
indexed word exactly, by a shared stem (word endings differ: "москве" ~ "москва"), or by edit
distance (typos, via rapidfuzz). Topics score by the words they match, weighted by where the
word sits (title and keywords above body text) and by how rare it is across topics.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from bot.content.model import Topic

_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "j", "з": "z",
    "и": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "ң": "n", "о": "o", "ө": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ү": "u", "ф": "f", "х": "h", "ц": "c",
    "ч": "ch", "ш": "sh", "щ": "sh", "ъ": "", "ы": "i", "ь": "", "э": "e", "ю": "iu", "я": "ia",
    "қ": "k", "ғ": "g", "ұ": "u", "ә": "a", "і": "i", "һ": "h",
}
_LATIN_VARIANTS = (("zh", "j"), ("kh", "h"), ("ts", "c"), ("x", "h"), ("w", "v"), ("q", "k"),
                   ("y", "i"), ("ck", "k"), ("dj", "j"))
_WORD_RE = re.compile(r"[^\W_]+")
_REPEAT_RE = re.compile(r"(.)\1+")

# Words that carry no topic: question words, pronouns, particles (after skeletonising).
_STOPWORDS_RAW = """
как что где мне меня мой моя мои это для если или при есть нет можно нужно надо когда какой
какие который чтобы тоже уже еще ещё его она они мы вы ты там тут так вот быть было будет все
всё очень сколько почему кто себя свой свою нас вас них чем про под над без через после
эмне кантип керек барбы мен сен ал биз силер алар бул ошол жана менен үчүн деп да дагы бар жок
кайда качан ким кандай канча эмес болот болсо болуп дейт мага сага анын менин сенин
"""
_MIN_STEM = 5


def skeleton(word: str) -> str:
    word = word.lower()
    latin = "".join(_CYRILLIC.get(ch, ch) for ch in word)
    for variant, canonical in _LATIN_VARIANTS:
        latin = latin.replace(variant, canonical)
    return _REPEAT_RE.sub(r"\1", latin)


def words(text: str) -> list[str]:
    """The searchable skeletons of a text, stopwords and one- or two-letter words dropped."""
    result = []
    for raw in _WORD_RE.findall(text):
        word = skeleton(raw)
        if (len(word) >= 3 or word.isdigit()) and word not in STOPWORDS:
            result.append(word)
    return result


STOPWORDS = frozenset(skeleton(w) for w in _STOPWORDS_RAW.split())


_GAP_WORD_RE = re.compile(r"^[^\W\d_]{3,20}$")
MAX_GAP_WORDS = 5


def gap_words(query: str) -> list[str]:
    """Words of a failed search worth counting for NGO staff, and nothing personal.

    Lower-cased letters only: any token with a digit goes (phone numbers, dates, amounts), and
    so does a capitalised word after the first (most likely a name). Stopwords and very short
    or long words go too. Reports show only words seen at least 5 times.
    """
    result: list[str] = []
    for position, token in enumerate(query[:500].split()):
        token = token.strip(".,!?;:()\"'«»…-")
        if position > 0 and token[:1].isupper():
            continue
        word = token.lower()
        if _GAP_WORD_RE.match(word) and skeleton(word) not in STOPWORDS and word not in result:
            result.append(word)
    return result[:MAX_GAP_WORDS]


@dataclass(frozen=True)
class SearchHit:
    topic: str
    score: float


class SearchIndex:
    """An immutable index of topic words; built once per content snapshot."""

    TITLE_WEIGHT = 4.0
    KEYWORD_WEIGHT = 3.0
    OTHER_LANGUAGE = 0.8  # a match in the other language counts a little less
    SECTION_WEIGHT = 0.7  # a menu section answers less than the topics inside it
    # Below this, a result rests on one weak fuzzy match in body text: better "not found".
    MIN_SCORE = 2.5
    _CACHE_LIMIT = 4096

    def __init__(self, postings: dict[str, dict[tuple[str, str], float]],
                 topic_factor: dict[str, float]) -> None:
        self._postings = postings
        self._vocabulary = sorted(postings)
        self._topic_count = len(topic_factor)
        self._topic_factor = topic_factor
        self._stems: dict[str, list[str]] = defaultdict(list)
        for term in self._vocabulary:
            for k in range(_MIN_STEM, len(term)):
                self._stems[term[:k]].append(term)
        self._match_cache: dict[str, list[tuple[str, float]]] = {}

    @classmethod
    def build(cls, topics: Iterable[Topic]) -> SearchIndex:
        postings: dict[str, dict[tuple[str, str], float]] = defaultdict(dict)

        def add(term: str, key: tuple[str, str], weight: float) -> None:
            postings[term][key] = max(postings[term].get(key, 0.0), weight)

        topic_factor: dict[str, float] = {}
        parents: set[str] = set()
        for topic in topics:
            key = (topic.lang, topic.id)
            topic_factor[topic.id] = 1.0
            if topic.parent:
                parents.add(topic.parent)
            counts: dict[str, int] = defaultdict(int)
            for term in words(topic.body):
                counts[term] += 1
            for term, n in counts.items():
                add(term, key, min(1.0 + 0.25 * (n - 1), 2.0))
            for term in words(" ".join(topic.keywords)):
                add(term, key, cls.KEYWORD_WEIGHT)
            for term in words(topic.title):
                add(term, key, cls.TITLE_WEIGHT)
        for topic_id in parents & set(topic_factor):
            topic_factor[topic_id] = cls.SECTION_WEIGHT
        return cls(dict(postings), topic_factor)

    def _matches(self, word: str) -> list[tuple[str, float]]:
        """Indexed terms that a query word stands for, with a similarity in (0, 1]."""
        cached = self._match_cache.get(word)
        if cached is not None:
            return cached
        found: dict[str, float] = {}
        if word in self._postings:
            found[word] = 1.0
        if len(word) >= 4 and not word.isdigit():
            # The query is a stem of indexed words ("паспорт" ~ "паспорта").
            start = bisect_left(self._vocabulary, word)
            for term in self._vocabulary[start : start + 50]:
                if not term.startswith(word):
                    break
                found.setdefault(term, 0.9)
            # Indexed words are stems of the query ("паспортумду" ~ "паспорт").
            for k in range(len(word) - 1, 3, -1):
                if word[:k] in self._postings:  # a four-letter stem is often another word
                    found.setdefault(word[:k], 0.9 if k >= _MIN_STEM else 0.7)
            # Same stem, other ending ("москве" ~ "москва").
            for k in range(len(word) - 1, _MIN_STEM - 1, -1):
                stem_terms = self._stems.get(word[:k])
                if stem_terms:
                    for term in stem_terms:
                        if k >= 0.7 * min(len(term), len(word)):
                            found.setdefault(term, 0.8)
                    break
            # Typos, with or without an ending.
            if len(word) >= 5:
                for term, ratio, _ in process.extract(
                    word, self._vocabulary, scorer=fuzz.ratio, score_cutoff=80, limit=8
                ):
                    found.setdefault(term, 0.75 * ratio / 100)
                for term, ratio, _ in process.extract(
                    word, self._vocabulary, scorer=_prefix_ratio, score_cutoff=86, limit=8
                ):
                    found.setdefault(term, 0.6 * ratio / 100)
        result = sorted(found.items(), key=lambda item: -item[1])
        if len(self._match_cache) >= self._CACHE_LIMIT:
            self._match_cache.clear()
        self._match_cache[word] = result
        return result

    def search(self, query: str, lang: str, limit: int = 5) -> list[SearchHit]:
        """Best topics for a query, best first; an empty list means nothing relevant.

        Each query word adds, to every topic it matches, its best match there (similarity ×
        field weight) times the word's rarity: how few topics the word (with its variants)
        matches at all. So "работа", found everywhere, counts little; "паспорт" counts a lot.
        """
        query_words = list(dict.fromkeys(words(query[:500])))  # a long paste is cut, not refused
        scores: dict[str, float] = defaultdict(float)
        for word in query_words:
            best: dict[str, float] = {}
            for term, similarity in self._matches(word):
                for (term_lang, topic_id), weight in self._postings[term].items():
                    factor = 1.0 if term_lang == lang else self.OTHER_LANGUAGE
                    value = similarity * weight * factor
                    if value > best.get(topic_id, 0.0):
                        best[topic_id] = value
            if not best:
                continue
            rarity = math.log(1 + self._topic_count / len(best))
            for topic_id, value in best.items():
                scores[topic_id] += value * rarity * self._topic_factor.get(topic_id, 1.0)
        if not scores:
            return []
        top = max(scores.values())
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        return [SearchHit(topic_id, round(score, 3)) for topic_id, score in ranked
                if score >= max(top * 0.35, self.MIN_SCORE)][:limit]


CLEAR_FLOOR = 6.0  # a winner must rest on more than one body-text word


def clear_winner(hits: list[SearchHit]) -> bool:
    """Whether the first hit clearly answers the query: at least twice the second's score
    (or alone) and above CLEAR_FLOOR. The bot then opens it at once instead of a list."""
    if not hits or hits[0].score < CLEAR_FLOOR:
        return False
    return len(hits) == 1 or hits[0].score >= 2 * hits[1].score


def _prefix_ratio(query: str, term: str, **_: object) -> float:
    """Similarity of the query's first len(term) letters to a term: a typo plus an ending."""
    if len(term) < 5 or len(query) <= len(term):
        return 0.0
    return fuzz.ratio(query[: len(term)], term)
