"""Search-gap words: which single common words people searched for without a result.

A word typed by one person never reaches the disk. The filter drops anything that may be
personal (a name, a number, an address); the gate keeps each remaining word in memory and
lets it be written only once `threshold` different chats typed it the same UTC day. Chats are
told apart by the daily cap (bot.stats.cap), which admits one chat once per word and day, so
the gate itself needs no chat identity. At day end the gate forgets every word below the
threshold.
"""

from __future__ import annotations

import re

from bot.content.search import STOPWORDS, skeleton

MAX_GAP_WORDS = 5  # words taken from one query
MAX_TRACKED_WORDS = 50_000  # bounds memory; new words beyond it are not counted that day

_LETTERS_RE = re.compile(r"^[^\W\d_]{3,20}$")
_TRIM = ".,!?;:()\"'«»…-"

# Numbers written in words, Russian and Kyrgyz, in Cyrillic and as typed in Latin letters:
# a phone number spelt out ("плюс девять девять шесть…") must not become "gap words".
_NUMBER_WORDS_CYRILLIC = """
ноль нуль один одна одно два две три четыре пять шесть семь восемь девять десять
одиннадцать двенадцать тринадцать четырнадцать пятнадцать шестнадцать семнадцать
восемнадцать девятнадцать двадцать тридцать сорок пятьдесят шестьдесят семьдесят
восемьдесят девяносто сто двести триста четыреста пятьсот шестьсот семьсот восемьсот
девятьсот тысяча тысячи тысяч миллион плюс минус
нөл бир эки үч төрт беш алты жети сегиз тогуз он жыйырма отуз кырк элүү алтымыш жетимиш
сексен токсон жүз миң
"""
_NUMBER_WORDS_LATIN = """
nol nul odin odna odno dva dve tri chetyre pyat shest sem vosem devyat desyat dvadtsat
tridtsat sorok pyatdesyat shestdesyat semdesyat vosemdesyat devyanosto sto dvesti trista
pyatsot shestsot semsot tysyacha tysiacha plus plyus plius minus
bir eki uch ush tort besh alty jeti seghiz segiz toguz on jyyyrma jiyirma otuz kyrk kirk
eluu altymysh jetimish seksen tokson juz jyz ming min
"""
# Compared by skeleton, so spelling variants (ё/е, ү/у, kh/h, "семьсот"/"semsot") match.
NUMBER_SKELETONS = frozenset(
    skeleton(w) for w in (_NUMBER_WORDS_CYRILLIC + _NUMBER_WORDS_LATIN).split()
)


def gap_words(query: str) -> list[str]:
    """Words of a failed search that may be counted: lower-case common words only.

    Dropped: any token with an upper-case letter anywhere (names: "Айгерим", "AIGERIM"),
    digits, '@', anything shaped like an e-mail address or a link, numbers written in words,
    stopwords, and words shorter than 3 or longer than 20 letters.
    """
    result: list[str] = []
    for token in query[:500].split():
        if "@" in token or "/" in token or "." in token.strip(_TRIM):
            continue  # e-mail addresses, links, domain names
        word = token.strip(_TRIM)
        if word != word.lower() or not _LETTERS_RE.match(word):
            continue
        shape = skeleton(word)
        if shape in STOPWORDS or shape in NUMBER_SKELETONS or word in result:
            continue
        result.append(word)
    return result[:MAX_GAP_WORDS]


class GapGate:
    """Per UTC day: how many different chats typed each word; a word is released at `threshold`.

    `admit(word)` is called once per chat and word (the daily cap ensures it) and returns how
    much to add to the stored counter now: 0 below the threshold, `threshold` when the word
    reaches it, 1 for every chat after that.
    """

    def __init__(self, threshold: int) -> None:
        self.threshold = max(1, threshold)
        self._seen: dict[str, int] = {}

    def admit(self, word: str) -> int:
        seen = self._seen.get(word, 0)
        if seen == 0 and len(self._seen) >= MAX_TRACKED_WORDS:
            return 0
        seen += 1
        self._seen[word] = seen
        if seen < self.threshold:
            return 0
        return self.threshold if seen == self.threshold else 1

    def new_day(self) -> None:
        """Forget every word: those below the threshold never existed outside memory."""
        self._seen = {}

    @property
    def tracked(self) -> int:
        return len(self._seen)
