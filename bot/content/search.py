"""Full-text search over topics in both languages, tolerant of how people type on a phone.

Every word is reduced to a Latin "skeleton": Cyrillic is transliterated, Kyrgyz ң ө ү fold into
н о у, spelling variants (zh/j, kh/h, y/i, doubled letters) collapse. So "pasport", "паспорт" and
"паспортумду" meet, and "rabota v rossii" finds "работа в России". A query word then matches an
indexed word exactly, by a shared stem (word endings differ: "москве" ~ "москва"), or by edit
distance (typos, via rapidfuzz). Topics score by the words they match, weighted by where the
word sits (title and keywords above body text) and by how rare it is across topics.

Built for the messages people really send (issue 11): a multi-word keyword ("не выходит на
связь") scores as a phrase, its single words only a little; a place name (a city, a country)
weighs little, so in "брат в Екатеринбурге пропал" the problem decides, not the city; filler and
Kyrgyz auxiliary verbs ("жатат", "калды") are stopwords; a topic found only through weak
matches (a typo-distance guess, a four-letter stem) is not a result; web addresses such as
migrant.kg stay one word. A place, a thing ("телефон") or a relative ("маме") beside words that
are no keyword of any topic is an everyday question ("погода в москве", "интернет медленный",
"что подарить маме") and finds nothing, unless a verb of working, going or staying asks about
that country ("Алматыда иштесе болобу"). A keyword with another Russian ending still matches.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from typing import Literal

from rapidfuzz import fuzz, process

from bot.content.model import Topic

_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "j", "з": "z",
    "и": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "ң": "n", "о": "o", "ө": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ү": "u", "ф": "f", "х": "h", "ц": "c",
    "ч": "ch", "ш": "sh", "щ": "sh", "ъ": "", "ы": "i", "ь": "", "э": "e", "ю": "iu", "я": "ia",
    "қ": "k", "ғ": "g", "ұ": "u", "ә": "a", "і": "i", "һ": "h",
    # Latin letters of Turkic alphabets: "öчүк" typed half in Latin is "өчүк".
    "ö": "o", "ü": "u", "ı": "i", "ñ": "n", "ç": "ch", "ş": "sh", "ğ": "g",
}
_LATIN_VARIANTS = (("zh", "j"), ("kh", "h"), ("ts", "c"), ("x", "h"), ("w", "v"), ("q", "k"),
                   ("y", "i"), ("ck", "k"), ("dj", "j"))
_WORD_RE = re.compile(r"[^\W_]+")
# A web address is one word: "migrant.kg" must not make every "мигрант" a match.
_ADDRESS_RE = re.compile(r"(?:https?://)?(?:[^\W_]+(?:-[^\W_]+)*\.)+[a-z]{2,6}\b(?:/\S*)?",
                         re.IGNORECASE)
_REPEAT_RE = re.compile(r"(.)\1+")
# Uzbek Latin writes oʻ, gʻ and the separating sign with a mark that phones type as any of
# ' ʻ ʼ ‘ ’ `: inside a word it is dropped ("qoʻyishdi", "qo'yishdi", "qoyishdi": one word).
_APOSTROPHE_RE = re.compile(r"(?<=[^\W\d_])['ʻʼ‘’`](?=[^\W\d_])")

# Words that carry no topic: question words, pronouns, particles (after skeletonising).
_STOPWORDS_RAW = """
как что где мне меня мой моя мои это для если или при есть нет можно нужно нужен нужна нужны
надо когда какой
какие который чтобы тоже уже еще ещё его она они мы вы ты там тут так вот быть было будет все
всё очень сколько почему кто себя свой свою нас вас них чем про под над без через после
эмне кантип керек барбы мен сен ал биз силер алар бул ошол жана менен үчүн деп да дагы бар жок
кайда качан ким кандай канча эмес болот болсо болуп дейт мага сага анын менин сенин
здравствуйте привет добрый день доброе утро вечер спасибо благодарю пожалуйста подскажите
скажите хочу хотел хотела могу может знаю узнать делать сделать просто вообще сейчас
уже тогда потом сегодня завтра вчера вам вас тебе тебя меня мной нам ним ней был была были
будут свои наш ваш английский английского английском англис англисче
салам саламатсызбы ассалому алейкум рахмат рахмет кандайсыз сураныч айтыңызчы айтып бериңиз
бериңизчи берсеңиз кылсам кылсак кылабыз кылыш кылуу кылам кылып кантем керекпи барбы эле
элем экен элек беле бүгүн эртең кечээ кайсы мен менде сизге сиз силер эмнеге эмнени
жатат жатам жатасың жатасыз жатабыз жатышат жаткан жатканда калды калдым калдык калышты
кетти кеттим кетишти алды алдым алышты койду койдум коюшту берди бердим беришти турат турам
турушат жүрөт жүрөм отурат отурам болду болдум болгон болобу деди дедим дешет дешти
"""
# Place names weigh little: a city or a country in a long message says where, not what is wrong.
_PLACES_RAW = """
россия россии рф орусия москва москве питер петербург екатеринбург новосибирск казань сургут
подмосковье казахстан казакстан алматы астана шымкент турция түркия стамбул анкара анталья
корея кореяга кореяда сеул пусан англия британия великобритания лондон оаэ баэ эмираты дубай
абу-даби шарджа бишкек ош кыргызстан таиланд мьянма красноярск тюмень иркутск самара
"""
# Things and people a message is about, not what is wrong: like a place, they name a topic only
# beside a word of the trouble ("телефон выключен", "сын не выходит на связь").
_CONTEXT_RAW = """
телефон интернет ватсап вацап whatsapp телеграм telegram инстаграм instagram тикток tiktok
приложение тиркеме номер
мама маме папа сын сына сыну дочь дочери брат сестра муж жена
апа апам ата атам уулум уулума кызым кызыма балам агам эжем күйөөм аялым
"""
_MIN_STEM = 5
# Kyrgyz piles endings on a word: айлык-ым-ды, кач-ып, кач-уу. These are the common case,
# possessive, plural and verb endings, as skeletons (ү ө fold into u o, doubled letters into
# one, so "-уу" is "u"); longer ones first. _kyrgyz_stem strips up to three of them.
_KYRGYZ_ENDINGS_RAW = """
    dan den tan ten don ton din nin tin dun nun tun ga ge ka ke go ko da de ta te do to
    ni di ti nu du tu im in um un iz imiz ibiz niz iniz unuz lar ler dar der tar ter lor dor
    tor si su ip up op gan gen kan ken gon kon bai bei pai pei boi sa se ish ush uch mak mek
    at et ait eit ot am em om siz sin i u
"""
_KYRGYZ_ENDINGS = tuple(sorted(set(_KYRGYZ_ENDINGS_RAW.split()), key=lambda e: (-len(e), e)))
_KYRGYZ_MIN_STEM = 4
# Russian case and number endings, as skeletons (я is "ia", ы and й are "i"): "визы", "визу" and
# "виза" are one word, so are "ферме" and "ферма". One ending is stripped; the stem keeps three
# letters at least.
_RUSSIAN_ENDINGS_RAW = """
    iami ami iah ah ogo ego omu emu oi ei ii om em ov ev ia iu ie oe aia uiu im ih a i u e o
"""
_RUSSIAN_ENDINGS = tuple(sorted(set(_RUSSIAN_ENDINGS_RAW.split()), key=lambda e: (-len(e), e)))
_RUSSIAN_MIN_STEM = 3


def skeleton(word: str) -> str:
    word = _APOSTROPHE_RE.sub("", word.lower())
    latin = "".join(_CYRILLIC.get(ch, ch) for ch in word)
    for variant, canonical in _LATIN_VARIANTS:
        latin = latin.replace(variant, canonical)
    return _REPEAT_RE.sub(r"\1", latin)


def words(text: str) -> list[str]:
    """The searchable skeletons of a text, stopwords and one- or two-letter words dropped.

    A web address stays one word, kept as written (lower case, with its dots)."""
    result = []
    pos = 0
    text = _APOSTROPHE_RE.sub("", text)
    for address in _ADDRESS_RE.finditer(text):
        result += _plain_words(text[pos : address.start()])
        result.append(address[0].lower().removeprefix("https://").removeprefix("http://"))
        pos = address.end()
    result += _plain_words(text[pos:])
    return result


@lru_cache(maxsize=8192)
def _kyrgyz_stem(word: str) -> str:
    """The word without its Kyrgyz endings: "айлыгымды" and "айлык" both give "ailik" (a k
    or p before an ending turns into g or b, so a final g, b goes back)."""
    for _ in range(3):
        for ending in _KYRGYZ_ENDINGS:
            if word.endswith(ending) and len(word) - len(ending) >= _KYRGYZ_MIN_STEM:
                word = word[: -len(ending)]
                break
        else:
            break
    if word[-1:] == "g":
        return word[:-1] + "k"
    return word[:-1] + "p" if word[-1:] == "b" else word


@lru_cache(maxsize=8192)
def _russian_stem(word: str) -> str:
    """The word without one Russian ending: "визы", "визу", "виза" all give "viz"."""
    for ending in _RUSSIAN_ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= _RUSSIAN_MIN_STEM:
            return word[: -len(ending)]
    return word


def _plain_words(text: str) -> list[str]:
    result = []
    for raw in _WORD_RE.findall(text):
        word = skeleton(raw)
        if (len(word) >= 3 or word.isdigit()) and word not in STOPWORDS:
            result.append(word)
    return result


def _is_address(term: str) -> bool:
    return "." in term


STOPWORDS = frozenset(skeleton(w) for w in _STOPWORDS_RAW.split())
PLACES = frozenset(_plain_words(_PLACES_RAW))
CONTEXT = frozenset(_plain_words(_CONTEXT_RAW))
# Beside a place, a verb of working, going or staying asks about that country ("Алматыда
# иштесе болобу", "Казакстанда канча күн жүрсө болот", "как долго можно жить в турции"). Roots,
# as skeletons: a Kyrgyz verb takes its endings after them.
_TRIP_ROOTS = ("isht", "bar", "ket", "jur", "rabot", "poeh", "uehat", "jit", "projiv", "nahodi")
# A place with another ending ("дубае", "москвада") is still a place: compare all but the last
# letter of names of five letters or more.
_PLACE_STEMS = tuple(sorted({place[:-1] for place in PLACES if len(place) >= 5}))
_PLACES_BY_STEM: dict[str, list[str]] = defaultdict(list)
for _place in PLACES:
    if len(_place) >= 5:
        _PLACES_BY_STEM[_place[:4]].append(_place)


# ---------------------------------------------------------------- small talk
# Greetings, thanks, "ok", emoji and cries for help are not search questions: the bot answers
# them before searching (handlers/smalltalk.py), and search finds no topic for them.
SmallTalk = Literal["sos", "greeting", "thanks", "ok"]

SOS_EMOJI = "🆘"
SMALL_TALK_WORDS: dict[SmallTalk, str] = {
    # A cry for help, alone or with "please" / "urgently": the SOS screen.
    "sos": """
        sos сос помогите помоги помогити спасите спаси help жардам жардам бериңиз
        бериңизчи бергиле бериңиздер жардамга куткаргыла куткаргылачы куткар
        срочно тез шашылыш
        yordam bering qutqaring qutqaringlar
    """,
    "greeting": """
        привет приветствую здравствуйте здравствуй здрасте здрасьте добрый день утро вечер
        доброе салам саламатсызбы саламатсыңбы ассалому ассаламу алейкум алейкуму
        кандайсыз кандайсың кандай жакшысызбы жакшысыңбы кайырлуу таң кеч күн
        как дела hi hello hey
        salom assalomu alaykum vaalaykum qalaysiz yaxshimisiz xayrli tong kech
    """,
    "thanks": """
        спасибо спс благодарю благодарен благодарна рахмат рахмет чоң ыракмат сизге сага
        thanks thank you большое огромное
        raxmat tashakkur katta
    """,
    "ok": """
        ок окей ok okay да ага хорошо понятно ясно понял поняла ладно ооба макул жакшы
        түшүндүм түшүнүктүү мейли болуптур нет жок
        ha xoʻp mayli tushundim tushunarli yaxshi yoʻq boʻpti
    """,
}
# What people thank for: allowed beside a thank-you word only ("помощь" alone is no thanks).
THANKED_FOR = """
    за помощь помощи информацию информации ответ ответы совет советы бот боту
    жардамың жардамыңыз жардам үчүн маалымат маалыматыңыз жообуңуз кеңешиңиз
    yordamingiz uchun maʼlumot javobingiz maslahatingiz
"""
# Words that may come with any of the above without changing what it is.
SMALL_TALK_FILLER = """
    пожалуйста пж пжл плиз вам вас тебе тебя мне очень всем сиз сен мага эже байке агай апа
    бир ой эй please iltimos sizga menga
"""
_WORD_RE = re.compile(r"[^\W_]+")
_SMALL_TALK = {kind: frozenset(skeleton(w) for w in text.split())
               for kind, text in SMALL_TALK_WORDS.items()}
_FILLER = frozenset(skeleton(w) for w in SMALL_TALK_FILLER.split())
_THANKED_FOR = frozenset(skeleton(w) for w in THANKED_FOR.split())
_SMALL_TALK_ANY = _FILLER | _THANKED_FOR | frozenset().union(*_SMALL_TALK.values())


def small_talk(text: str) -> SmallTalk | None:
    """What kind of small talk a message is, or None for a question to search.

    Small talk only when every word is in the lists above (so "помогите найти работу в
    Корее" is a question, and "спасибо" never opens SOS). Words compare as skeletons, so
    "rahmat", "рахмат" and "рахмаат" are one word. Editors who find a missing word add it
    here, in either script, lower case.
    """
    if SOS_EMOJI in text:
        return "sos"
    raw_words = _WORD_RE.findall(_APOSTROPHE_RE.sub("", text[:200]))
    if not raw_words:
        return "ok" if text.strip() else None  # only emoji or punctuation
    found = set()
    for raw in raw_words:
        word = skeleton(raw)
        if word not in _SMALL_TALK_ANY:
            return None  # a word of a question: stop here, most messages end at the first
        found.add(word)
    found -= _FILLER
    sos, greeting, thanks, ok = (_SMALL_TALK[k] for k in ("sos", "greeting", "thanks", "ok"))
    if found & sos and found <= sos | greeting | ok:
        return "sos"  # "салам, жардам бериңиз" is a cry for help, not a greeting
    if found & thanks and found <= greeting | thanks | ok | _THANKED_FOR:
        return "thanks"  # "спасибо за помощь", "жардамыңыз үчүн рахмат"
    if found <= greeting | thanks | ok:
        return "thanks" if found & thanks else "greeting" if found & greeting else "ok"
    return None


@dataclass(frozen=True)
class SearchHit:
    topic: str
    score: float


Key = tuple[str, str]  # (lang, topic id)
BestMatches = dict[str, tuple[float, bool, bool, bool]]
"""topic id -> (value, solid, in the title, in a keyword or the title)"""
Phrase = tuple[str, ...]  # the words of a multi-word keyword


class SearchIndex:
    """An immutable index of topic words; built once per content snapshot."""

    TITLE_WEIGHT = 4.0
    KEYWORD_WEIGHT = 3.0
    PHRASE_PART_WEIGHT = 1.5  # one word of a multi-word keyword; the whole phrase scores more
    PHRASE_WEIGHT = 1.5  # per word (× rarity) of a multi-word keyword found as a phrase
    # A city or a country says where, not what the trouble is: however rare, it counts like a
    # common word; a little more in the country's own topic (the place in its title).
    PLACE_RARITY = 1.2
    PLACE_TITLE_RARITY = 2.0
    BODY_RARITY = 1.3
    OTHER_LANGUAGE = 0.8  # a match in the other language counts a little less
    SECTION_WEIGHT = 0.7  # a menu section answers less than the topics inside it
    # A result needs a keyword or title word matched solidly (exact, a stem, a near-typo), or
    # this much from solid matches in body text: one weak guess (a typo-distance match, a
    # four-letter stem, a three-letter word) is better "not found".
    MIN_SCORE = 4.0
    SOLID = 0.8  # similarity from which a match is solid
    # Below this, the best topic must match more than half of the query's words.
    WEAK_TOP = 5.0
    _CACHE_LIMIT = 4096

    def __init__(self, postings: dict[str, dict[Key, float]], topic_factor: dict[str, float],
                 phrases: dict[Phrase, set[Key]] | None = None,
                 editor: set[tuple[str, Key]] | None = None,
                 pace: Callable[[], None] = lambda: None) -> None:
        self._postings = postings
        self._editor = editor or set()  # (term, key) where the term is a keyword or in the title
        # Web addresses match only exactly: no stems or typos of "migrant.kg".
        self._vocabulary = sorted(t for t in postings if not _is_address(t))
        self._topic_count = len(topic_factor)
        self._topic_factor = topic_factor
        # Phrases by the stem key of their first word, so a query looks at a few, not all.
        self._phrases: dict[str, list[tuple[Phrase, set[Key]]]] = defaultdict(list)
        for phrase, keys in (phrases or {}).items():
            self._phrases[_stem_key(phrase[0])].append((phrase, keys))
        # The vocabulary by word length, for typos with an ending (_prefix_typos).
        self._by_length: dict[int, list[str]] = defaultdict(list)
        self._kyrgyz_stems: dict[str, list[str]] = defaultdict(list)
        self._russian_stems: dict[str, list[str]] = defaultdict(list)
        editor_terms = {term for term, _ in self._editor}
        for n, term in enumerate(self._vocabulary):
            if n % 512 == 0:
                pace()
            self._by_length[len(term)].append(term)
            if not term.isdigit():
                self._kyrgyz_stems[_kyrgyz_stem(term)].append(term)
                if len(term) >= 4 and term in editor_terms:
                    self._russian_stems[_russian_stem(term)].append(term)
        self._match_cache: dict[tuple[str, bool], list[tuple[str, float]]] = {}
        self._typo_cache: dict[str, list[tuple[str, float]]] = {}
        self._best_cache: dict[tuple[str, str], tuple[BestMatches, frozenset[str]]] = {}

    @classmethod
    def build(cls, topics: Iterable[Topic],
              pace: Callable[[], None] = lambda: None) -> SearchIndex:
        """The index of `topics`; `pace` is called between topics (see loader.load)."""
        postings: dict[str, dict[Key, float]] = defaultdict(dict)
        phrases: dict[Phrase, set[Key]] = defaultdict(set)
        editor: set[tuple[str, Key]] = set()
        topic_factor: dict[str, float] = {}
        parents: set[str] = set()
        for topic in topics:
            pace()
            key = (topic.lang, topic.id)
            topic_factor[topic.id] = 1.0
            if topic.parent:
                parents.add(topic.parent)
            weights, by_editor, topic_phrases = _topic_weights(
                topic.title, topic.keywords, topic.body, cls.KEYWORD_WEIGHT,
                cls.PHRASE_PART_WEIGHT, cls.TITLE_WEIGHT)
            for term, weight in weights:
                postings[term][key] = weight
            editor.update((term, key) for term in by_editor)
            for phrase in topic_phrases:
                phrases[phrase].add(key)
        for topic_id in parents & set(topic_factor):
            topic_factor[topic_id] = cls.SECTION_WEIGHT
        pace()
        return cls(dict(postings), topic_factor, dict(phrases), editor, pace)

    def _matches(self, word: str, russian: bool = False) -> list[tuple[str, float]]:
        """Indexed terms that a query word stands for, with a similarity in (0, 1]; `russian`
        also compares Russian endings (a Russian query)."""
        cached = self._match_cache.get((word, russian))
        if cached is not None:
            return cached
        found: dict[str, float] = {}
        if word in self._postings:
            found[word] = 1.0
        if len(word) >= 4 and not word.isdigit() and not _is_address(word):
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
            # Same Kyrgyz stem: "качып" ~ "качуу", "айлыгымды" ~ "айлык".
            for term in self._kyrgyz_stems.get(_kyrgyz_stem(word), ()):
                found.setdefault(term, 0.85)
            # A keyword with another Russian ending: "визы" ~ "виза", "ферме" ~ "ферма" (only
            # keywords and titles, only in Russian: Kyrgyz words would meet too many others).
            for term in self._russian_stems.get(_russian_stem(word), ()) if russian else ():
                found.setdefault(term, 0.85)
            # A place with another ending: "дубае" is Дубай, though they share only "дуба".
            for place in _PLACES_BY_STEM.get(word[:4], ()):
                if word.startswith(place[:-1]) and place in self._postings:
                    found.setdefault(place, 0.9)
            # Same stem, other ending ("москве" ~ "москва"); a short shared stem is a guess.
            for k in range(len(word) - 1, _MIN_STEM - 1, -1):
                stem_terms = self._longer(word[:k])
                if stem_terms:
                    for term in stem_terms:
                        if k >= 0.7 * min(len(term), len(word)):
                            found.setdefault(term, 0.8 if k >= 0.8 * min(len(term), len(word))
                                             else 0.7)
                    break
            if len(word) >= 5:
                for term, similarity in self._typos(word):
                    found.setdefault(term, similarity)
        result = sorted(found.items(), key=lambda item: -item[1])
        if len(self._match_cache) >= self._CACHE_LIMIT:
            self._match_cache.clear()
        self._match_cache[(word, russian)] = result
        return result

    def _longer(self, prefix: str) -> list[str]:
        """Indexed words that continue `prefix`, found in the sorted vocabulary (a dict of
        every prefix would be faster to look up but is most of building an index)."""
        found = []
        for term in islice(self._vocabulary, bisect_left(self._vocabulary, prefix), None):
            if not term.startswith(prefix):
                break
            if len(term) > len(prefix):
                found.append(term)
        return found

    def _typos(self, word: str) -> list[tuple[str, float]]:
        """Typos, with or without an ending: a guess unless very close. The slow part of
        matching, so kept apart: a Russian and a Kyrgyz query share it."""
        cached = self._typo_cache.get(word)
        if cached is None:
            cached = [(term, 0.8 if ratio >= 85 else 0.75 * ratio / 100) for term, ratio, _ in
                      process.extract(word, self._vocabulary, scorer=fuzz.ratio,
                                      score_cutoff=80, limit=8)]
            cached += [(term, 0.6 * ratio / 100) for term, ratio in self._prefix_typos(word)]
            if len(self._typo_cache) >= self._CACHE_LIMIT:
                self._typo_cache.clear()
            self._typo_cache[word] = cached
        return cached

    def _prefix_typos(self, word: str, limit: int = 8) -> list[tuple[str, float]]:
        """Indexed words of five letters or more, shorter than `word`, that its first as many
        letters match with a similarity of 86 or more (a typo plus an ending): the best
        `limit`, best first, ties in vocabulary order. Each length is compared in one
        rapidfuzz call, not a Python call per word."""
        found = [(term, ratio) for length in range(5, len(word))
                 for term, ratio, _ in process.extract(
                     word[:length], self._by_length.get(length, ()), scorer=fuzz.ratio,
                     score_cutoff=86, limit=limit)]
        return sorted(found, key=lambda match: (-match[1], match[0]))[:limit]

    def search(self, query: str, lang: str, limit: int = 5) -> list[SearchHit]:
        """Best topics for a query, best first; an empty list means nothing relevant.

        Each query word adds, to every topic it matches, its best match there (similarity ×
        field weight) times the word's rarity: how few topics the word (with its variants)
        matches at all. So "работа", found everywhere, counts little; "паспорт" counts a lot;
        a place name little, beside a problem. A multi-word keyword in the query adds more.
        """
        if small_talk(query) in ("greeting", "thanks", "ok"):
            return []  # not a question (a cry for help still finds the sos topic)
        query_words = words(query[:500])  # a long paste is cut, not refused
        scores: dict[str, float] = defaultdict(float)
        solid: dict[str, float] = defaultdict(float)  # the part from solid matches
        words_hit: dict[str, int] = defaultdict(int)  # query words solidly matched, per topic
        keyword_hits: set[str] = set()  # an editor's keyword or title matched solidly
        unique_words = list(dict.fromkeys(query_words))
        places = [self._is_place(word) for word in unique_words]
        found = []
        strong = False  # a word of the trouble: solidly a keyword or in a title somewhere
        unknown = False  # a word that the content does not know at all
        framing = False  # a place, or a thing such as "телефон"
        for word, place in zip(unique_words, places, strict=True):
            word_hits: set[str] = set()
            best = self._best(word, lang, word_hits)
            keyword_hits |= word_hits
            if place or self._is_context(word):
                framing = True
            elif word_hits or (any(places) and word.startswith(_TRIP_ROOTS)):
                strong = True
            else:
                unknown = True
            found.append((place, best))
        # Places are capped only when something else in the message says what is wrong.
        # (A place with any verb, "Алматыда иштесе болобу", asks about that country.)
        problem = any(not place and any(match[1] for match in best.values())
                      for place, best in found)
        for place, best in found:
            if not best:
                continue
            rarity = math.log(1 + self._topic_count / len(best))
            for topic_id, (value, is_solid, in_title, by_editor) in best.items():
                # A rare word only in a topic's text is often a detail (a name, a date, "в этом
                # году"), not what the topic is about: its rarity counts only so much.
                word_rarity = rarity if by_editor else min(rarity, self.BODY_RARITY)
                if place and problem:
                    word_rarity = min(rarity, self.PLACE_TITLE_RARITY if in_title
                                      else self.PLACE_RARITY)
                points = value * word_rarity * self._topic_factor.get(topic_id, 1.0)
                scores[topic_id] += points
                if is_solid:
                    solid[topic_id] += points
                    words_hit[topic_id] += 1
        phrase_points = self._phrase_points(query_words, lang)
        for topic_id, points in phrase_points.items():
            scores[topic_id] += points
            solid[topic_id] += points
        if not scores:
            return []
        if framing and unknown and not strong and not phrase_points:
            # "погода в москве", "интернет медленный": a place or a thing, and a word the
            # content does not know, is an everyday question, not a trouble we answer.
            return []
        top = max(scores.values())
        best_topic = max(scores, key=lambda topic_id: scores[topic_id])
        if (top < self.WEAK_TOP and len(found) >= 2 and not any(place for place, _ in found)
                and 2 * words_hit[best_topic] <= len(found)):
            # "как заработать деньги": one common word of an everyday question is no topic.
            return []
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        return [SearchHit(topic_id, round(score, 3)) for topic_id, score in ranked
                if score >= top * 0.35 and (solid[topic_id] >= self.MIN_SCORE
                                            or topic_id in keyword_hits)][:limit]

    def _is_context(self, word: str) -> bool:
        """Whether a query word is a thing of the CONTEXT list ("телефону" ~ "телефон")."""
        return any(term in CONTEXT for term, similarity in self._matches(word)
                   if similarity >= self.SOLID)

    def _is_place(self, word: str) -> bool:
        """Whether a query word is a place name ("екатеринбурге" ~ "екатеринбург", "дубае" ~
        "дубай")."""
        return word.startswith(_PLACE_STEMS) or any(
            term in PLACES for term, similarity in self._matches(word)
            if similarity >= self.SOLID)

    def _best(self, word: str, lang: str,
              keyword_hits: set[str]) -> BestMatches:
        """Per topic, the best match of one query word: (value, solid, in the title); topics
        where it is solidly a keyword or in the title go into `keyword_hits`."""
        cached = self._best_cache.get((word, lang))
        if cached is None:
            cached = self._best_cache[(word, lang)] = self._best_uncached(word, lang)
            if len(self._best_cache) > self._CACHE_LIMIT:
                self._best_cache.clear()
        best, hits = cached
        keyword_hits.update(hits)
        return best

    def _best_uncached(self, word: str, lang: str) -> tuple[BestMatches, frozenset[str]]:
        keyword_hits: set[str] = set()
        best: BestMatches = {}
        for term, similarity in self._matches(word, russian=lang == "ru"):
            for (term_lang, topic_id), weight in self._postings[term].items():
                factor = 1.0 if term_lang == lang else self.OTHER_LANGUAGE
                value = similarity * weight * factor
                if value > best.get(topic_id, (0.0, False, False, False))[0]:
                    # A three-letter word in body text is too often another word ("күн").
                    is_solid = similarity >= self.SOLID and (
                        len(term) > 3 or term.isdigit() or weight >= self.KEYWORD_WEIGHT)
                    best[topic_id] = (value, is_solid, weight >= self.TITLE_WEIGHT,
                                      (term, (term_lang, topic_id)) in self._editor)
                    if is_solid and weight >= self.KEYWORD_WEIGHT:
                        keyword_hits.add(topic_id)
        return best, frozenset(keyword_hits)

    def _phrase_points(self, query_words: list[str], lang: str) -> dict[str, float]:
        """Points for multi-word keywords whose words all appear, in order, in the query."""
        points: dict[str, float] = defaultdict(float)
        if len(query_words) < 2:
            return points
        candidates = {phrase: keys for word in set(query_words[:-1])
                      for phrase, keys in self._phrases.get(_stem_key(word), ())}
        for phrase, keys in candidates.items():
            if _contains_phrase(query_words, phrase):
                best: dict[str, float] = {}
                for term_lang, topic_id in keys:
                    factor = 1.0 if term_lang == lang else self.OTHER_LANGUAGE
                    best[topic_id] = max(best.get(topic_id, 0.0), factor)
                rarity = math.log(1 + self._topic_count / len(best))
                for topic_id, factor in best.items():
                    points[topic_id] += (self.PHRASE_WEIGHT * len(phrase) * factor * rarity
                                         * self._topic_factor.get(topic_id, 1.0))
        return points


TopicTerms = tuple[tuple[tuple[str, int], ...], tuple[Phrase, ...], Phrase]


def _topic_terms(title: str, keywords: tuple[str, ...], body: str) -> TopicTerms:
    """A topic's words: its body's with their counts, each keyword's, its title's: most of
    building an index."""
    counts: dict[str, int] = defaultdict(int)
    for term in words(body):
        counts[term] += 1
    return (tuple(counts.items()), tuple(tuple(words(keyword)) for keyword in keywords),
            tuple(words(title)))


TopicWeights = tuple[tuple[tuple[str, float], ...], tuple[str, ...], tuple[Phrase, ...]]


@lru_cache(maxsize=2048)
def _topic_weights(title: str, keywords: tuple[str, ...], body: str, keyword_weight: float,
                   phrase_part_weight: float, title_weight: float) -> TopicWeights:
    """A topic's terms with their weight in it (the best of a body word's count, a keyword, a
    phrase's part, the title), the terms an editor chose (keywords, title) and its multi-word
    keywords. Cached by the text (~0.7 MB for the real content), so a /reload after one edit
    splits and weighs only the edited topics again, and building the index is one assignment
    per term."""
    body_counts, keyword_terms, title_terms = _topic_terms(title, keywords, body)
    weights: dict[str, float] = {}
    chosen: set[str] = set()

    def add(term: str, weight: float, by_editor: bool = True) -> None:
        weights[term] = max(weights.get(term, 0.0), weight)
        if by_editor:
            chosen.add(term)

    for term, n in body_counts:
        add(term, min(1.0 + 0.25 * (n - 1), 2.0), by_editor=False)
    for terms in keyword_terms:
        for term in terms:
            add(term, keyword_weight if len(terms) == 1 else phrase_part_weight)
    for term in title_terms:
        add(term, title_weight)
    return (tuple(weights.items()), tuple(sorted(chosen)),
            tuple(terms for terms in keyword_terms if len(terms) > 1))


def _stem_key(word: str) -> str:
    """Words that _same_word may join share this key: the first four letters, or the word."""
    return word[:4] if len(word) >= 4 else word


def _same_word(query_word: str, term: str) -> bool:
    """A phrase's word in the query, allowing another ending ("связь" ~ "связи")."""
    if query_word == term:
        return True
    shared = min(len(query_word), len(term), _MIN_STEM)
    return (shared >= 4 and query_word[:shared] == term[:shared]) or (
        len(query_word) >= _KYRGYZ_MIN_STEM and _kyrgyz_stem(query_word) == _kyrgyz_stem(term))


def _contains_phrase(query_words: list[str], phrase: Phrase) -> bool:
    """The phrase's words in order, with at most one other word between two of them."""
    for start, word in enumerate(query_words):
        if not _same_word(word, phrase[0]):
            continue
        position = start
        for part in phrase[1:]:
            window = query_words[position + 1 : position + 3]
            step = next((i for i, w in enumerate(window) if _same_word(w, part)), None)
            if step is None:
                break
            position += 1 + step
        else:
            return True
    return False


CLEAR_FLOOR = 6.0  # a winner must rest on more than one body-text word


def clear_winner(hits: list[SearchHit]) -> bool:
    """Whether the first hit clearly answers the query: at least twice the second's score
    (or alone) and above CLEAR_FLOOR. The bot then opens it at once instead of a list."""
    if not hits or hits[0].score < CLEAR_FLOOR:
        return False
    return len(hits) == 1 or hits[0].score >= 2 * hits[1].score
