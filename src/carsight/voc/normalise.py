"""Text clean-up and personal-data masking for consultation text.

Runs before anything is stored, shown, tokenised or counted, so that phone numbers, e-mail
addresses, resident registration numbers, plates and customer names never reach a result table, a
model or a word cloud.

Decisions worth knowing:
- Company representative numbers (1588-xxxx, 1577-xxxx, 16xx-, 18xx-) are *not* personal data and are
  kept: customers quote them ("1588 번호로 전화했는데"), and they tell which service line was involved.
- Names are found by context (``홍길동 고객님``, ``김민수님``, ``고객명: 홍길동``, ``홍길동 씨``) with a
  Korean surname list and a list of titles that are not names (기사님, 팀장님, 이번 고객님). Known names
  (e.g. the customer's own name from the ``customers`` table) are masked wherever they appear.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

MASK_PHONE = "[전화번호]"
MASK_EMAIL = "[이메일]"
MASK_RRN = "[주민번호]"
MASK_PLATE = "[차량번호]"
MASK_NAME = "[이름]"
MASKS = (MASK_PHONE, MASK_EMAIL, MASK_RRN, MASK_PLATE, MASK_NAME)

# ---- normalisation -------------------------------------------------------------------------
# NFKC maps compatibility jamo (ㅋ, ㅠ) to conjoining jamo, which then glue onto neighbours; keep them.
_NOT_COMPAT_JAMO = re.compile(r"[^\u3131-\u318E]+")
_WS = re.compile(r"\s+")
# Runs of three or more of the same jamo, punctuation or symbol shrink to two (ㅋㅋㅋㅋ → ㅋㅋ, !!!! → !!).
# Digits and letters are left alone: 1000000 and part numbers must survive.
_REPEAT = re.compile(r"([\u3131-\u318E!?.,~^;:*@#$%&+=_\-/\\|<>()\[\]{}'\"…·♡♥☆★])\1{2,}")


def _missing(value: object) -> bool:
    """None, NaN, pandas' NA or NaT: a missing text, never the word "nan"."""
    if value is None or isinstance(value, str):
        return value is None
    try:
        return bool(value != value) or str(value) in ("<NA>", "NaT")
    except (TypeError, ValueError):  # pd.NA refuses comparison
        return True


def normalise_text(text: str | None) -> str:
    """NFKC (except compatibility jamo), one space for any whitespace run, long repeats shortened."""
    if _missing(text):
        return ""
    return _shorten_repeats(_unicode_and_space(str(text)))


def _unicode_and_space(text: str) -> str:
    text = _NOT_COMPAT_JAMO.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    return _WS.sub(" ", text).strip()


def _shorten_repeats(text: str) -> str:
    return _REPEAT.sub(r"\1\1", text)


# ---- masking ---------------------------------------------------------------------------------
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![A-Za-z0-9])"
)

# YYMMDD-SNNNNNN; a half-masked back part (1******) counts as well.
_RRN = re.compile(
    r"(?<![\d-])\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\s?[-–]?\s?[1-8](?:\d{6}|\*{6}|x{6}|X{6})(?!\d)"
)

_SEP = r"[\s.\-–)]{0,2}"
# Mobile 010/011/016-019, internet 070, safe numbers 050x, landlines 02 and 031-064; optional +82 / (0).
_PHONE = re.compile(
    r"(?<![\d+])"
    r"(?:\+?82[\s.\-]?(?:\(0\))?\s?|\(?0)"
    r"(?:1[016789]|70|50[2-8]|2|[3-6][1-5])"
    rf"{_SEP}\d{{3,4}}{_SEP}\d{{4}}"
    r"(?!\d)"
)

_REGIONS = "서울|부산|대구|인천|광주|대전|울산|세종|경기|강원|충북|충남|전북|전남|경북|경남|제주"
# The syllables used on Korean civilian, commercial and rental plates.
_PLATE_SYLLABLES = "가나다라마거너더러머버서어저고노도로모보소오조구누두루무부수우주아바사자배하허호"
_PLATE = re.compile(
    rf"(?<![\dA-Za-z])(?:(?:{_REGIONS})\s?)?\d{{2,3}}\s?[{_PLATE_SYLLABLES}]\s?\d{{4}}"
    r"(?![\d,.]?\d)(?!\s?(?:km|㎞|원|만|천|개|번|회|%|시|분|cc|kg|년|월|일))"
)

_SURNAMES_2 = ("남궁", "선우", "제갈", "독고", "황보", "사공", "서문", "동방")
_SURNAMES_1 = (
    "김이박최정강조윤장임한오서신권황안송류유전홍고문양손배백허남심노하곽성차주우구민진나지엄채원천방공현"
    "함변염여추도소석선설마길연위표명기반왕금옥육인맹제모탁국어은편용예봉경"
)
_SURNAME = "(?:" + "|".join(_SURNAMES_2) + f"|[{_SURNAMES_1}])"
_HANGUL = "[가-힣]"
# Words that look like "surname + syllables" before 님/고객님 but are titles, roles or ordinary words.
_NOT_NAMES = frozenset(
    [
        "고객",
        "고객님",
        "기사",
        "선생",
        "사장",
        "부장",
        "차장",
        "과장",
        "대리",
        "주임",
        "이사",
        "원장",
        "팀장",
        "실장",
        "소장",
        "점장",
        "지점장",
        "센터장",
        "상무",
        "전무",
        "회장",
        "상담사",
        "정비사",
        "매니저",
        "담당자",
        "어머",
        "아버",
        "이번",
        "기존",
        "신규",
        "우수",
        "모든",
        "우리",
        "해당",
        "전체",
        "일반",
        "정비소",
        "대리점",
        "서비스",
        "이번주",
        "이번달",
        "오늘",
        "문의",
        "고객센터",
        "차주",
        "주인",
        "손님",
        "형님",
        "누님",
        "언니",
        "오빠",
        "도련",
        "아드",
        "따님",
        "사모",
        "선배",
        "후배",
        "교수",
        "박사",
        "원무",
        "정비",
        "기술",
        "안내",
        "상담",
        "우리집",
        "제가",
        "저희",
        "어르신",
        "장인",
        "장모",
        "시어머",
        "시아버",
        "관리자",
        "관리",
        "운전",
        "운전자",
        "신입",
    ]
)
_NAME_FOLLOW = r"(?:\s?(?:고객님|고객|회원님|회원|차주님|차주|님|씨|氏))"
_NAME_BEFORE_TITLE = re.compile(rf"(?<![가-힣])({_SURNAME}{_HANGUL}{{2}}){_NAME_FOLLOW}")
# Text typed without spaces ("급해요임지영고객님"): only the unambiguous customer titles count there.
_NAME_GLUED = re.compile(rf"({_SURNAME}{_HANGUL}{{2}})(?=고객님|회원님|차주님)")
_NAME_LABEL = re.compile(
    rf"((?:고객|예약자|계약자|신청자|차주|소유자|담당자|보호자)\s?(?:명|성함|이름)|성함|이름|예약자|계약자)"
    rf"(\s?(?:[:：=]|은|는|이|가)\s?)({_SURNAME}{_HANGUL}{{1,2}})"
    r"(?=$|[^가-힣]|입니다|이고|이며|이에요|으로|로|님|씨|고객|에게|의)"
)


def _mask_names(text: str) -> str:
    def before_title(match: re.Match) -> str:
        name = match.group(1)
        if name in _NOT_NAMES:
            return match.group(0)
        return match.group(0).replace(name, MASK_NAME, 1)

    def after_label(match: re.Match) -> str:
        name = match.group(3)
        if name in _NOT_NAMES:
            return match.group(0)
        return f"{match.group(1)}{match.group(2)}{MASK_NAME}"

    text = _NAME_LABEL.sub(after_label, text)
    text = _NAME_BEFORE_TITLE.sub(before_title, text)
    return _NAME_GLUED.sub(lambda m: m.group(0) if m.group(1) in _NOT_NAMES else MASK_NAME, text)


_ALL_HANGUL = re.compile(r"[가-힣]+")
_DIGIT = re.compile(r"\d")
# Every name pattern needs one of these words next to the name.
_NAME_CUE = re.compile(r"님|씨|氏|고객|회원|차주|명|성함|이름|예약자|계약자")
_GIVEN_NAME_TITLES = ("님", "씨", " 님", " 씨", " 고객", "고객")


def mask_pii(text: str | None, names: Iterable[str] = ()) -> str:
    """Replace personal data in (already normalised) ``text`` by masks such as ``[전화번호]``.

    ``names`` are known personal names (the customer's own name) masked wherever they occur; the
    given name alone is masked too when the full name is three or more syllables.
    """
    if not text:
        return ""
    # Cheap pre-checks skip the patterns that cannot match (most texts have no digits or '@').
    if "@" in text:
        text = _EMAIL.sub(MASK_EMAIL, text)
    if _DIGIT.search(text):
        text = _RRN.sub(MASK_RRN, text)
        text = _PHONE.sub(MASK_PHONE, text)
        text = _PLATE.sub(MASK_PLATE, text)
    for name in names:
        if not isinstance(name, str):
            continue
        name = name.strip()
        if len(name) < 2:
            continue
        text = text.replace(name, MASK_NAME)
        if len(name) >= 3 and _ALL_HANGUL.fullmatch(name):
            # "민수님" after a full name was given once; plain replace, because compiling a pattern
            # per customer name would dominate the run time over a whole table
            given = name[1:]
            for title in _GIVEN_NAME_TITLES:
                if given + title in text:
                    text = text.replace(given + title, MASK_NAME + title)
    return _mask_names(text) if _NAME_CUE.search(text) else text


def clean_and_mask(text: str | None, names: Iterable[str] = ()) -> str:
    """The one entry point callers need.

    Unicode and whitespace clean-up, masking, then shortening of repeats (after masking, so a
    half-masked ``900101-1******`` is still recognised).
    """
    if _missing(text):
        return ""
    return _shorten_repeats(mask_pii(_unicode_and_space(str(text)), names))
