"""Suggest catalogue items for a free-text request (operator notes, speech-to-text, SMS, a little English).

The method is a small, explainable lexical classifier over the catalogue's own vocabulary (item
name, category name, keywords, English names), so admins change its behaviour by editing keywords:

1. Normalise (``_Normaliser``): full-width → half-width, lower case, traditional → simplified,
   fold well-known typos, strip phone numbers, address fragments, "<surname><honorific>" names and
   operator boilerplate; English words are stemmed and translated through a small glossary.
2. Phrase hits: every vocabulary term found in the text, exactly or by fuzzy pinyin (homophone
   typos such as 电体 → 电梯; at least half the characters must be identical). Longest match wins
   (a hit inside a longer hit is discounted: 暖气费 beats 暖气), and so does segmentation (a hit
   cutting across jieba word boundaries, like 家电 in 我家|电视, is discounted), as does negation.
   A keyword with spaces ("残疾 工作") is an AND keyword: all parts present, in any order. A
   multi-word keyword whose words appear apart (油烟机…清洗 for 清洗油烟机) counts as a loose hit.
3. Soft evidence: character bigrams of the text not explained by a phrase hit, matched against
   the bigrams of each item's vocabulary (马桶不通 ~ 马桶堵 / 下水不通).
4. A hit counts idf(term) × length factor × kind weight; items of one category lend each other a
   little evidence (category prior). Raw scores map to (0, 1] by 1 − exp(−raw / scale).

Everything is read-only after construction, so ``suggest`` is safe to call from many threads.
"""

from __future__ import annotations

import logging
import math
import re
import tomllib
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jieba
from opencc import OpenCC
from rapidfuzz import fuzz, process

from dispatch.catalogue.csvio import CatalogueRow

try:  # pinyin only adds homophone-typo tolerance; without it exact matching still works
    from pypinyin import Style, lazy_pinyin, pinyin
except ImportError:  # pragma: no cover - depends on the environment
    pinyin = None

LEXICON_PATH = Path(__file__).parent / "data" / "lexicon.toml"

# Kind weights: a keyword is the reference signal; the item name is slightly more precise; parts of
# compound names (门窗|家具|维修) and category names are weaker, generic evidence.
KEYWORD, NAME, NAME_PART, CATEGORY, CATEGORY_PART, ENGLISH = 1.0, 1.2, 0.6, 0.5, 0.3, 0.6
WEAK = 0.3  # generic request words (咨询, 申请, …) from the lexicon
SHADOWED = 0.25  # a hit inside a longer hit
UNALIGNED = 0.6  # a hit that cuts through a jieba word
NEGATED = 0.3  # "不是漏水"
PINYIN = 0.6  # homophone match rather than the written term
OVERLAP = 0.5  # a hit overlapping a stronger hit of the same item
LOOSE = 0.6  # all words of a keyword present, but apart or reordered (油烟机…清洗 ~ 清洗油烟机)
BIGRAM = 0.3  # soft bigram evidence relative to a whole-term hit
CATEGORY_PRIOR = 0.15  # share of sibling items' evidence an item receives
MIN_RAW = 0.42  # below this the text carries no usable signal (under half a distinctive term)
RELATIVE_CUT = 0.15  # drop candidates weaker than this fraction of the best
SCORE_SCALE = 1.25
MAX_TERM_LEN = 12

_CJK = re.compile(r"[\u3400-\u9fff]")
_ASCII_ALNUM = re.compile(r"[a-z0-9]")
_PHONE = re.compile(r"(?:\+?86[\s-]?)?\d(?:[\s-]?[\dx*]){6,}")
_PLACE_BEFORE_NUMBER = re.compile(
    r"[\u4e00-\u9fff]{2,5}(?:小区|花园|家园|新村|公寓|大厦|花苑|名苑|社区|大院|新城|里|路|街|弄|巷|村)(?=\s*\d)"
)
_PLACE_STANDALONE = re.compile(
    r"[\u4e00-\u9fff]{2,4}(?:小区|花园|家园|新村|公寓|大厦|花苑|名苑|社区)(?=[\s,，。;；:：、()（）]|$)"
)
_ADDRESS_NUMBER = re.compile(
    r"\d+(?:-\d+)+(?:室|号)?|\d+\s*(?:号楼|号院|栋|幢|座|单元|楼|层|室|号|弄|巷|排|户|期)"
)
_ENGLISH_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def _stem(word: str) -> str:
    """Tiny English stemmer: enough to make leaking/leaks/leaked meet leak."""
    if len(word) >= 5 and word.isalpha():
        for suffix in ("ing", "ed", "s"):
            if word.endswith(suffix) and not word.endswith("ss"):
                return word[: -len(suffix)]
    return word


def _idf(n_items: int, df: int) -> float:
    """Inverse document frequency scaled so a term unique to one item weighs 1 in any catalogue size."""
    return math.log(1 + n_items / df) / math.log(1 + n_items)


@lru_cache(maxsize=16384)
def _readings(char: str) -> frozenset[str]:
    """All fuzzy pinyin readings of one character (heteronyms included: 调 → tiao, diao)."""
    if pinyin is None or not _CJK.match(char):
        return frozenset()
    return frozenset(_fuzzy(s) for s in pinyin(char, style=Style.NORMAL, heteronym=True)[0])


def _fuzzy(syllable: str) -> str:
    """Fold the confusions of accents and speech recognition (zh/z, ch/c, sh/s, l/n, -ng/-n)."""
    for retroflex in ("zh", "ch", "sh"):
        if syllable.startswith(retroflex):
            syllable = retroflex[0] + syllable[2:]
    if syllable.startswith("l"):
        syllable = "n" + syllable[1:]
    if syllable.endswith(("ang", "eng", "ing")):
        syllable = syllable[:-1]
    return syllable


@dataclass(frozen=True, slots=True)
class ItemText:
    item_code: str
    category_code: str
    name_zh: str
    name_en: str
    category_zh: str
    category_en: str
    keywords: tuple[str, ...]

    @classmethod
    def from_row(cls, row: CatalogueRow) -> ItemText:
        return cls(
            item_code=row.item_code,
            category_code=row.category_code,
            name_zh=row.item_zh,
            name_en=row.item_en,
            category_zh=row.category_zh,
            category_en=row.category_en,
            keywords=row.keywords,
        )


@dataclass(frozen=True, slots=True)
class Suggestion:
    item_code: str
    category_code: str
    name: str
    score: float  # in (0, 1], best first


@dataclass(frozen=True, slots=True)
class Reason:
    """Why an item matched: a vocabulary phrase, the words of the request it matched, its weight."""

    phrase: str
    matched: str
    weight: float


@dataclass(slots=True)
class _Hit:
    term: int
    start: int
    end: int
    factor: float


class _Normaliser:
    """Turns raw request text into the canonical form the vocabulary is matched against."""

    def __init__(self, lexicon: dict) -> None:
        noise = lexicon["noise"]
        english = lexicon["english"]
        self._t2s = OpenCC("t2s")
        self.typos: dict[str, str] = dict(lexicon["typos"])
        self.weak = frozenset(noise["weak"])
        self.negations = tuple(noise["negations"])
        self.function_chars = frozenset(noise["function_chars"])
        honorifics = "|".join(sorted(noise["honorifics"], key=len, reverse=True))
        self._names = re.compile(f"[{noise['surnames']}](?:{honorifics})")
        self._boilerplate = re.compile("|".join(sorted(map(re.escape, noise["boilerplate"]), key=len)[::-1]))
        self._stopwords = frozenset(english["stopwords"])
        self._phrases: dict[str, str] = english["phrases"]
        self._words: dict[str, str] = english["words"]
        self._word_keys = [w for w in self._words if len(w) >= 5]

    def term(self, text: str) -> str:
        """Vocabulary side: same character folding as queries, no noise stripping."""
        return self._t2s.convert(unicodedata.normalize("NFKC", text).lower()).strip()

    def query(self, text: str) -> str:
        t = self.term(text)
        t = _PHONE.sub(" ", t)
        t = _PLACE_BEFORE_NUMBER.sub(" ", t)
        t = _ADDRESS_NUMBER.sub(" ", t)
        t = _PLACE_STANDALONE.sub(" ", t)
        t = self._names.sub(" ", t)
        for wrong, right in self.typos.items():
            if wrong in t:
                t = t.replace(wrong, right)
        t = self._boilerplate.sub(" ", t)
        if _ENGLISH_WORD.search(t):
            t = f"{_ENGLISH_WORD.sub(lambda m: _stem(m.group()), t)} {self._translate(t)}"
        return " ".join(t.split())

    def english_tokens(self, text: str) -> list[str]:
        words = _ENGLISH_WORD.findall(self.term(text))
        return [_stem(w) for w in words if w not in self._stopwords and len(w) > 2]

    def _translate(self, text: str) -> str:
        """English words/phrases → Chinese, concatenated in order so 马桶+堵了 can meet 马桶堵."""
        words = _ENGLISH_WORD.findall(text)
        out: list[str] = []
        i = 0
        while i < len(words):
            for n in (3, 2):  # longest phrase first
                phrase = " ".join(words[i : i + n])
                if len(words) - i >= n and phrase in self._phrases:
                    out.append(self._phrases[phrase])
                    i += n
                    break
            else:
                out.append(self._word(words[i]))
                i += 1
        return "".join(out)

    def _word(self, word: str) -> str:
        if word in self._stopwords:
            return ""
        for candidate in (word, _stem(word), word.rstrip("s")):
            if candidate in self._words:
                return self._words[candidate]
        if len(word) >= 5:  # spelling slips: elevater, leeking
            match = process.extractOne(word, self._word_keys, scorer=fuzz.ratio, score_cutoff=85)
            if match:
                return self._words[match[0]]
        return ""


class Suggester:
    """Index of the catalogue vocabulary; ``suggest`` ranks items for a request text."""

    def __init__(self, items: Iterable[ItemText], lexicon_path: Path = LEXICON_PATH) -> None:
        with open(lexicon_path, "rb") as fh:
            self._norm = _Normaliser(tomllib.load(fh))
        self.items: tuple[ItemText, ...] = tuple(items)
        jieba.setLogLevel(logging.WARNING)  # else every rebuild logs "Building prefix dict…" at INFO
        self._tokenizer = jieba.Tokenizer()  # private: adding our vocabulary must not touch jieba's global
        self._tokenizer.initialize()

        per_item = [self._item_terms(item) for item in self.items]
        n_items = max(1, len(self.items))
        postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for index, terms in enumerate(per_item):
            for text, kind in terms.items():
                postings[text].append((index, kind))
        self._term_ids: dict[str, int] = {}
        self._term_texts: list[str] = []
        self._term_postings: list[tuple[tuple[int, float], ...]] = []
        self._term_base: list[float] = []
        for text, post in postings.items():
            self._term_ids[text] = len(self._term_texts)
            self._term_texts.append(text)
            self._term_postings.append(tuple(post))
            chars = len(text.replace(" ", ""))
            length = 1.0 if not _CJK.search(text) else {1: 0.5, 2: 1.0, 3: 1.15}.get(chars, 1.3)
            self._term_base.append(
                _idf(n_items, len(post)) * length * (WEAK if text in self._norm.weak else 1)
            )
        self._term_weak = [text in self._norm.weak for text in self._term_texts]
        self._loose = self._loose_index()  # must split with jieba's own dictionary, before add_word
        for text in self._term_texts:
            if _CJK.match(text) and 2 <= len(text) <= 8 and " " not in text:
                self._tokenizer.add_word(text)
        self._max_len = min(MAX_TERM_LEN, max((len(t) for t in self._term_texts), default=1))

        # Bigram postings for soft evidence; idf over items as for terms.
        bigram_items: dict[str, set[int]] = defaultdict(set)
        for index, terms in enumerate(per_item):
            for text in terms:
                for i in range(len(text) - 1):
                    if _CJK.match(text[i]) and _CJK.match(text[i + 1]):
                        bigram_items[text[i : i + 2]].add(index)
        self._bigrams = {b: (tuple(sorted(ix)), _idf(n_items, len(ix))) for b, ix in bigram_items.items()}

        # Pinyin index: (first syllable, second syllable) → [(term id, syllables)].
        self._pinyin: dict[tuple[str, str], list[tuple[int, tuple[str, ...]]]] = defaultdict(list)
        if pinyin is not None:
            for tid, text in enumerate(self._term_texts):
                if 2 <= len(text) <= 8 and all(_CJK.match(c) for c in text):
                    syllables = tuple(_fuzzy(s) for s in lazy_pinyin(text))
                    if len(syllables) == len(text):
                        self._pinyin[syllables[0], syllables[1]].append((tid, syllables))

        self._category_members: dict[str, list[int]] = defaultdict(list)
        for index, item in enumerate(self.items):
            self._category_members[item.category_code].append(index)

    def _loose_index(self) -> dict[str, list[tuple[int, tuple[str, ...]]]]:
        """Multi-word terms (清洗油烟机 → 清洗|油烟机) indexed by their first content word."""
        index: dict[str, list[tuple[int, tuple[str, ...]]]] = defaultdict(list)
        for tid, text in enumerate(self._term_texts):
            if " " in text:  # explicit AND keyword
                parts = text.split()
                index[parts[0]].append((tid, tuple(parts[1:])))
                continue
            if not (_CJK.match(text) and len(text) >= 3):
                continue
            words = [w for w in self._tokenizer.lcut(text, HMM=False) if w not in self._norm.function_chars]
            # single characters (帮…忙, 没…工作) match almost anything once apart
            if len(words) >= 2 and all(len(w) >= 2 for w in words):
                index[words[0]].append((tid, tuple(words[1:])))
        return index

    def _item_terms(self, item: ItemText) -> dict[str, float]:
        """Every vocabulary term of one item with its kind weight (the strongest kind wins)."""
        terms: dict[str, float] = {}

        def add(raw: str, kind: float) -> None:
            # "上户口 新生儿": every part must occur, in any order (an AND keyword)
            text = " ".join(self._norm.term(raw).split())
            if text and terms.get(text, 0.0) < kind:
                terms[text] = kind

        def add_compound(raw: str, whole: float, part_kind: float) -> None:
            add(raw, whole)  # and its words: 门窗家具维修 → 门窗|家具|维修
            for word in self._tokenizer.lcut(self._norm.term(raw), HMM=False):
                if len(word) >= 2:
                    add(word, part_kind)

        add_compound(item.name_zh, NAME, NAME_PART)
        add_compound(item.category_zh, CATEGORY, CATEGORY_PART)
        for keyword in item.keywords:
            add(keyword, KEYWORD)
        for token in self._norm.english_tokens(f"{item.name_en} {item.category_en}"):
            add(token, ENGLISH)
        return terms

    def suggest(self, text: str, limit: int = 3) -> list[Suggestion]:
        if limit <= 0 or not text or not text.strip():
            return []
        query = self._norm.query(text)
        if not query:
            return []
        raw = self._raw_scores(query)
        ranked = sorted(
            (i for i, s in enumerate(raw) if s > 0), key=lambda i: (-raw[i], self.items[i].item_code)
        )
        if not ranked or raw[ranked[0]] < MIN_RAW:
            return []
        floor = max(MIN_RAW / 2, raw[ranked[0]] * RELATIVE_CUT)
        return [
            Suggestion(
                item_code=self.items[i].item_code,
                category_code=self.items[i].category_code,
                name=self.items[i].name_zh,
                score=1.0 - math.exp(-raw[i] / SCORE_SCALE),
            )
            for i in ranked[:limit]
            if raw[i] >= floor
        ]

    def explain(self, text: str) -> list[tuple[str, float]]:
        """The matched terms and their effective weights, strongest first (for operators and tests)."""
        query = self._norm.query(text)
        hits = self._hits(query)
        return sorted(
            ((self._term_texts[h.term], round(self._term_base[h.term] * h.factor, 2)) for h in hits),
            key=lambda pair: -pair[1],
        )

    def reasons(self, text: str, item_codes: Iterable[str]) -> dict[str, list[Reason]]:
        """Per item, the phrases of its vocabulary the request matched and how much each counted
        (strongest first): what an admin checks when a request lands on the wrong item."""
        query = self._norm.query(text)
        wanted = {i: item.item_code for i, item in enumerate(self.items) if item.item_code in set(item_codes)}
        found: dict[str, list[Reason]] = {code: [] for code in wanted.values()}
        for hit in self._hits(query):
            base = self._term_base[hit.term] * hit.factor
            phrase = self._term_texts[hit.term]
            matched = query[hit.start : hit.end] if hit.end > hit.start else phrase
            for index, kind in self._term_postings[hit.term]:
                if index in wanted:
                    found[wanted[index]].append(Reason(phrase, matched, round(base * kind, 2)))
        return {code: sorted(rs, key=lambda r: -r.weight) for code, rs in found.items()}

    def _raw_scores(self, query: str) -> list[float]:
        raw = [0.0] * len(self.items)
        weak_best = [0.0] * len(self.items)  # generic and loose evidence do not add up: best one counts
        spans: dict[int, list[tuple[int, int]]] = defaultdict(list)  # per item, spans already counted
        hits = sorted(self._hits(query), key=lambda h: -self._term_base[h.term] * h.factor)
        for hit in hits:
            base = self._term_base[hit.term] * hit.factor
            for index, kind in self._term_postings[hit.term]:
                if self._term_weak[hit.term] or hit.start == hit.end:  # weak or loose
                    weak_best[index] = max(weak_best[index], base * kind)
                    continue
                # 门锁 + 锁坏了 in 门锁坏了: characters already counted for this item count half
                overlap = any(s < hit.end and hit.start < e for s, e in spans[index])
                spans[index].append((hit.start, hit.end))
                raw[index] += base * kind * (OVERLAP if overlap else 1.0)
        raw = [s + w for s, w in zip(raw, weak_best, strict=True)]
        covered = [False] * len(query)
        for hit in hits:
            if hit.factor >= 0.5:
                covered[hit.start : hit.end] = [True] * (hit.end - hit.start)
        function_chars = self._norm.function_chars
        for i in range(len(query) - 1):
            bigram = query[i : i + 2]
            if (covered[i] and covered[i + 1]) or bigram[0] in function_chars or bigram[1] in function_chars:
                continue
            entry = self._bigrams.get(bigram)
            if entry:
                for index in entry[0]:
                    raw[index] += BIGRAM * entry[1]
        # Category prior: siblings' evidence says "this is a home-repair kind of request".
        totals = {c: sum(raw[i] for i in members) for c, members in self._category_members.items()}
        return [s + CATEGORY_PRIOR * (totals[self.items[i].category_code] - s) for i, s in enumerate(raw)]

    def _hits(self, query: str) -> list[_Hit]:
        best: dict[int, _Hit] = {}

        def keep(hit: _Hit) -> None:
            if hit.term not in best or best[hit.term].factor < hit.factor:
                best[hit.term] = hit

        n = len(query)
        loose_candidates: list[tuple[int, int, tuple[str, ...]]] = []
        for start in range(n):
            for end in range(start + 1, min(n, start + self._max_len) + 1):
                piece = query[start:end]
                tid = self._term_ids.get(piece)
                if tid is not None and self._at_word_edges(query, start, end):
                    keep(_Hit(tid, start, end, 1.0))
                for loose_tid, rest in self._loose.get(piece, ()):
                    loose_candidates.append((loose_tid, start, rest))
        for hit in self._pinyin_hits(query):
            keep(hit)
        hits = list(best.values())
        # Loose hits come after shadowing/alignment: they have no contiguous span to judge.
        loose = [
            _Hit(tid, start, start, 1.0 if " " in self._term_texts[tid] else LOOSE)
            for tid, start, rest in loose_candidates
            if tid not in best and all(word in query for word in rest)
        ]
        boundaries = {0, n}
        for _, s, e in self._tokenizer.tokenize(query, HMM=False):
            boundaries.update((s, e))
        for hit in hits:
            length = hit.end - hit.start
            if any(o.start <= hit.start and hit.end <= o.end and o.end - o.start > length for o in hits):
                hit.factor *= SHADOWED
            if hit.start not in boundaries or hit.end not in boundaries:
                hit.factor *= UNALIGNED
            if query[: hit.start].rstrip().endswith(self._norm.negations):
                hit.factor *= NEGATED
        return hits + list({h.term: h for h in loose}.values())

    @staticmethod
    def _at_word_edges(query: str, start: int, end: int) -> bool:
        """ASCII terms must be whole words: "120" is not inside "1203", "lock" not inside "block"."""
        if _ASCII_ALNUM.match(query[start]) and start > 0 and _ASCII_ALNUM.match(query[start - 1]):
            return False
        # a trailing letter may continue (stems: leak → leaks), a trailing digit may not
        return not (query[end - 1].isdigit() and end < len(query) and query[end].isdigit())

    def _pinyin_hits(self, query: str) -> list[_Hit]:
        """Homophone typos: a window that sounds like a term and shares at least half its characters."""
        if not self._pinyin:
            return []
        readings = [_readings(c) for c in query]
        hits: list[_Hit] = []
        for i in range(len(query) - 1):
            for first in readings[i]:
                for second in readings[i + 1]:
                    for tid, syllables in self._pinyin.get((first, second), ()):
                        end = i + len(syllables)
                        if end > len(query) or any(
                            syllables[j] not in readings[i + j] for j in range(2, len(syllables))
                        ):
                            continue
                        window, term = query[i:end], self._term_texts[tid]
                        same = sum(a == b for a, b in zip(window, term, strict=True))
                        # a real word written on purpose (事业 vs 失业) is not a typo
                        if window != term and 2 * same >= len(term) and not self._is_word(window):
                            hits.append(_Hit(tid, i, end, PINYIN))
        return hits

    def _is_word(self, text: str) -> bool:
        return self._tokenizer.FREQ.get(text, 0) > 0
