"""Tokenisation of consultation text.

Kiwi morphemes for Korean (with the shipped domain dictionary, user dictionaries and the model names
of the warehouse, so 경고등 and 예약자명 stay whole), a plain word tokeniser with stop words for English,
and per-text language detection.

Kiwi takes seconds to build, so instances are cached per dictionary. Analysis is memoised per
whitespace-separated word (어절): call-centre vocabulary repeats heavily, so after warm-up most words are
dictionary look-ups, which is what makes thousands of texts per second possible on two cores.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path

from carsight.errors import InputError
from carsight.voc.normalise import MASKS

DICTIONARY_PACKAGE = "carsight.voc.dictionary"
_HANGUL = re.compile(r"[가-힣ㄱ-ㅎㅏ-ㅣ]")
_LATIN = re.compile(r"[A-Za-z]")
_MASK_RE = re.compile("|".join(re.escape(m) for m in MASKS))
_EN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'\-]*[A-Za-z0-9]|[A-Za-z]")
_NOUN_TAGS = frozenset({"NNG", "NNP"})
_PREDICATE_TAGS = frozenset({"VV", "VA"})
_VALID_TAGS = frozenset({"NNG", "NNP", "NNB", "NR", "NP", "VV", "VA", "XR", "SL", "SH"})


def detect_language(text: str, threshold: float = 0.3) -> str:
    """The language of a text: ``ko``, ``en`` or ``und``.

    ``"ko"`` when Hangul makes up at least ``threshold`` of the letters, ``"en"`` when the letters
    are Latin, ``"und"`` when there are no letters at all (numbers, masks only).
    """
    if not text:
        return "und"
    text = _MASK_RE.sub(" ", text)
    hangul = len(_HANGUL.findall(text))
    latin = len(_LATIN.findall(text))
    if hangul + latin == 0:
        return "und"
    return "ko" if hangul / (hangul + latin) >= threshold else "en"


def _read_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@lru_cache(maxsize=1)
def korean_stopwords() -> frozenset[str]:
    """The Korean stop words shipped with carsight."""
    return frozenset(_read_lines(resources.files(DICTIONARY_PACKAGE).joinpath("stopwords_ko.txt").read_text("utf-8")))


@lru_cache(maxsize=1)
def english_stopwords() -> frozenset[str]:
    """scikit-learn's English stop words."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def _parse_terms(lines: Iterable[str], source: str) -> list[tuple[str, str]]:
    terms = []
    for number, line in enumerate(lines, start=1):
        parts = line.split("\t") if "\t" in line else [line]
        word = parts[0].strip()
        tag = parts[1].strip().upper() if len(parts) > 1 and parts[1].strip() else "NNG"
        if not word:
            continue
        if tag not in _VALID_TAGS:
            raise InputError(f"unknown part-of-speech tag '{tag}'", file=source, row=number, expected="NNG or NNP")
        terms.append((word, tag))
    return terms


@lru_cache(maxsize=1)
def _builtin_terms() -> tuple[tuple[str, str], ...]:
    text = resources.files(DICTIONARY_PACKAGE).joinpath("domain_terms.txt").read_text("utf-8")
    return tuple(_parse_terms(_read_lines(text), "domain_terms.txt"))


def load_terms(paths: Sequence[str | Path] = (), *, builtin: bool = True) -> tuple[tuple[str, str], ...]:
    """Domain terms: the shipped ``domain_terms.txt`` plus user dictionary files (one term per line, optional tab + tag)."""
    terms: list[tuple[str, str]] = list(_builtin_terms()) if builtin else []
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise InputError("user dictionary not found", file=str(path), expected="a text file, one term per line")
        try:
            text = path.read_text("utf-8-sig")
        except UnicodeDecodeError:
            text = path.read_text("cp949")
        terms += _parse_terms(_read_lines(text), str(path))
    return tuple(terms)


@lru_cache(maxsize=4)
def get_kiwi(terms: tuple[tuple[str, str], ...] = ()):
    """A Kiwi instance with ``terms`` added as user words; built once per distinct dictionary."""
    from kiwipiepy import Kiwi

    kiwi = Kiwi()
    for word, tag in terms:
        # Kiwi cannot hold spaces in a user word; "Santa Fe" is matched as "SantaFe" never, so skip it
        # (its parts still come through as Latin words).
        if " " in word:
            continue
        kiwi.add_user_word(word, tag, 0.0)
    return kiwi


_WORD_CACHES: dict[tuple, dict[str, tuple[str, ...]]] = {}
_CACHE_LOCK = threading.Lock()


def _shared_cache(key: tuple) -> dict[str, tuple[str, ...]]:
    """One word cache per dictionary and options.

    Shared by every tokenizer in the process (the pipeline's tokenizer warms it for the
    classifier's).
    """
    with _CACHE_LOCK:
        if key not in _WORD_CACHES:
            if len(_WORD_CACHES) >= 8:
                _WORD_CACHES.pop(next(iter(_WORD_CACHES)))
            _WORD_CACHES[key] = {}
        return _WORD_CACHES[key]


def model_terms(models: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """Model names (from ``vehicles``) as proper nouns for the dictionary."""
    out = []
    for model in models:
        if isinstance(model, str) and model.strip():
            out.append((model.strip().replace(" ", ""), "NNP"))
    return tuple(sorted(set(out)))


class Tokenizer:
    """Turns texts into keyword tokens.

    Nouns (compounds from the dictionary kept whole), model codes (``G80``, ``EV6``), Latin
    abbreviations, and verb/adjective stems as ``…다`` when ``predicates``.

    Parameters
    ----------
    terms:
        Extra ``(word, tag)`` user words, on top of the shipped domain dictionary.
    predicates:
        Keep verb and adjective stems (``켜지다``, ``심하다``).
    stopwords:
        Drop Korean and English stop words.
    cache_words:
        Memoise the analysis of each whitespace-separated word (much faster on real corpora).
    """

    def __init__(
        self,
        terms: Sequence[tuple[str, str]] = (),
        *,
        predicates: bool = True,
        stopwords: bool = True,
        cache_words: bool = True,
        builtin_dictionary: bool = True,
        max_cache: int = 500_000,
    ):
        self.terms = tuple((str(w), str(t)) for w, t in terms)
        self.predicates = predicates
        self.stopwords = stopwords
        self.cache_words = cache_words
        self.builtin_dictionary = builtin_dictionary
        self.max_cache = max_cache

    # Kiwi and the word cache live outside the object, so a pickled model stays small.
    def __getstate__(self):
        """Pickle without the per-process word cache."""
        state = self.__dict__.copy()
        state.pop("_canon", None)
        return state

    @property
    def _cache(self) -> dict[str, tuple[str, ...]]:
        return _shared_cache((self.dictionary, self.predicates, self.stopwords))

    @property
    def dictionary(self) -> tuple[tuple[str, str], ...]:
        """The user dictionary: the built-in terms (when on) and the extra terms, each once."""
        builtin = load_terms() if self.builtin_dictionary else ()
        return tuple(dict.fromkeys(builtin + self.terms))

    @property
    def kiwi(self):
        """The Kiwi analyser for this dictionary (one per process)."""
        return get_kiwi(self.dictionary)

    def warm_up(self) -> threading.Thread:
        """Build Kiwi and load its language model in a background thread.

        It takes several seconds, so the caller can do other work meanwhile; join the thread before
        tokenising.
        """
        thread = threading.Thread(target=lambda: self.kiwi.tokenize("준비"), daemon=True)
        thread.start()
        return thread

    @property
    def _canonical(self) -> dict[str, str]:
        canon = getattr(self, "_canon", None)
        if canon is None:
            canon = {w.casefold(): w for w, _ in self.dictionary}
            self._canon = canon
        return canon

    def _latin(self, word: str) -> str | None:
        folded = word.casefold()
        if folded in self._canonical:
            return self._canonical[folded]
        if self.stopwords and folded in english_stopwords():
            return None
        if len(word) < 2 and not any(ch.isdigit() for ch in word):
            return None
        # Codes and abbreviations (G80, BDC) read best in capitals, ordinary words in lower case.
        if any(ch.isdigit() for ch in word) or (word.isupper() and len(word) <= 5):
            return word.upper()
        return folded

    def _from_kiwi(self, tokens) -> tuple[str, ...]:
        out: list[str] = []
        stop = korean_stopwords() if self.stopwords else frozenset()
        i, n = 0, len(tokens)
        while i < n:
            tok = tokens[i]
            tag = tok.tag.split("-")[0]
            touching_next = i + 1 < n and tokens[i + 1].start == tok.start + tok.len
            if tag == "SL" or (tag == "SN" and touching_next and tokens[i + 1].tag == "SL"):
                # glue touching Latin letters and digits into one code: G + 80 → G80, EV + 6 → EV6
                j, end, form = i, tok.start + tok.len, tok.form
                while j + 1 < n and tokens[j + 1].tag in ("SL", "SN") and tokens[j + 1].start == end:
                    j += 1
                    form += tokens[j].form
                    end = tokens[j].start + tokens[j].len
                word = self._latin(form)
                if word:
                    out.append(word)
                i = j + 1
                continue
            if tag in _NOUN_TAGS and touching_next and tokens[i + 1].tag == "SN":
                # a Hangul model name with a number (아이오닉5) is one word when the dictionary says so
                joined = tok.form + tokens[i + 1].form
                if joined.casefold() in self._canonical:
                    out.append(self._canonical[joined.casefold()])
                    i += 2
                    continue
            if tag in _NOUN_TAGS or tag == "XR":
                form = self._canonical.get(tok.form.casefold(), tok.form) if tag == "NNP" else tok.form
                if (len(form) > 1 or tag == "NNP" or form in self._canonical) and form not in stop:
                    out.append(form)
            elif self.predicates and tag in _PREDICATE_TAGS:
                form = tok.form + "다"
                if form not in stop:
                    out.append(form)
            i += 1
        return tuple(out)

    def _english(self, text: str) -> list[str]:
        return [w for w in (self._latin(word) for word in _EN_WORD.findall(text)) if w]

    def korean_words(self, texts: Iterable[str]) -> list[list[str] | None]:
        """The words of each Korean text as the word cache keys them (whitespace-separated, masks removed).

        None for a text in another language: its tokens come from no cached analysis.
        """
        return _korean_words(_without_masks(texts))

    def tokenize(self, text: str) -> list[str]:
        """The tokens of one text."""
        return self.tokenize_many([text])[0]

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]:
        """Tokens per text, analysing the words not seen before in one multi-threaded Kiwi batch."""
        texts = _without_masks(texts)
        if not self.cache_words:
            korean = [i for i, t in enumerate(texts) if detect_language(t) == "ko"]
            analysed = dict(zip(korean, self.kiwi.tokenize([texts[i] for i in korean]), strict=True))
            return [
                list(self._from_kiwi(analysed[i])) if i in analysed else self._english(t) for i, t in enumerate(texts)
            ]
        split = _korean_words(texts)
        cache = self._cache
        with _CACHE_LOCK:
            unseen = {w for words in split if words for w in words if w not in cache}
            if unseen:
                unseen_list = sorted(unseen)
                if len(cache) + len(unseen_list) > self.max_cache:
                    cache.clear()
                for word, tokens in zip(unseen_list, self.kiwi.tokenize(unseen_list), strict=True):
                    cache[word] = self._from_kiwi(tokens)
            out = []
            for text, words in zip(texts, split, strict=True):
                if words is None:
                    out.append(self._english(text))
                else:
                    out.append([tok for w in words for tok in cache[w]])
        return out


def _without_masks(texts: Iterable[str]) -> list[str]:
    """Texts with their masks (``[전화번호]``…) blanked, a missing text empty."""
    return [_MASK_RE.sub(" ", t) if isinstance(t, str) else "" for t in texts]


def _korean_words(texts: Sequence[str]) -> list[list[str] | None]:
    """The whitespace-separated words of each Korean text (masks already blanked), None for the others."""
    return [t.split() if detect_language(t) == "ko" else None for t in texts]


def _word_cache_file(folder: Path, tokenizer: Tokenizer) -> Path:
    """The file of ``tokenizer``'s word analyses: one per Kiwi version, dictionary and options."""
    import hashlib
    import json
    from importlib.metadata import version

    key = json.dumps(
        [version("kiwipiepy"), tokenizer.dictionary, tokenizer.predicates, tokenizer.stopwords], ensure_ascii=False
    )
    return Path(folder) / f"words-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:16]}.json"


def load_word_cache(folder: str | Path, tokenizer: Tokenizer) -> int:
    """Fill ``tokenizer``'s word cache from what an earlier run saved in ``folder``.

    A re-run then analyses only the words it has not seen: Kiwi is not even built when every word is
    known. The file is keyed by the Kiwi version, the dictionary and the options, so a changed
    dictionary starts afresh.

    Parameters
    ----------
    folder : str or Path
        Where :func:`save_word_cache` wrote the file.
    tokenizer : Tokenizer
        The tokenizer whose (process-wide) word cache is filled.

    Returns
    -------
    int
        The number of words loaded (0 without a file).
    """
    import json

    path = _word_cache_file(Path(folder), tokenizer)
    if not tokenizer.cache_words or not path.is_file():
        return 0
    words = json.loads(path.read_text("utf-8"))
    cache = tokenizer._cache  # taken before the lock: the property takes it too
    with _CACHE_LOCK:
        for word, tokens in words.items():
            cache.setdefault(word, tuple(tokens))
    return len(words)


def save_word_cache(folder: str | Path, tokenizer: Tokenizer) -> Path:
    """Save ``tokenizer``'s word cache for the next run (see :func:`load_word_cache`); returns the file."""
    import json

    path = _word_cache_file(Path(folder), tokenizer)
    path.parent.mkdir(parents=True, exist_ok=True)
    cache = tokenizer._cache  # taken before the lock: the property takes it too
    with _CACHE_LOCK:
        words = {word: list(tokens) for word, tokens in cache.items()}
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(words, ensure_ascii=False), "utf-8")
    partial.replace(path)  # a reader never sees half a file
    return path


def tokens_to_text(tokens: Sequence[str]) -> str:
    """Tokens joined for vectorisers that split on spaces (tokens never contain spaces)."""
    return " ".join(tokens)


def split_tokens(text: str) -> list[str]:
    """The analyzer that undoes :func:`tokens_to_text` (module level so fitted models pickle)."""
    return text.split()
