"""Synthetic Korean (and some English) call-centre texts.

Built from per-topic templates with the noise real consultations have: spacing errors, typos,
emoticons, repeated characters and personal data (phone numbers in several forms, e-mails, names,
plate numbers) that must later be masked.

Everything is vectorised with Arrow string kernels, so a million texts take seconds. The topic
vocabulary below is the planted truth the VoC analytics should recover (docs/demo-data.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from carsight.demo import config as C
from carsight.demo import vehicles as V
from carsight.demo.customers import SURNAMES, digits

# key -> (Korean agent label stored in `category`, English label)
CATEGORIES: dict[str, tuple[str, str]] = {
    "engine_noise": ("엔진/소음", "Engine / noise"),
    "warning_light": ("경고등", "Warning light"),
    "ev_charging": ("충전", "EV charging"),
    "infotainment": ("인포테인먼트/내비", "Infotainment / navigation"),
    "booking": ("정비예약", "Service booking"),
    "warranty": ("보증수리", "Warranty repair"),
    "recall": ("리콜", "Recall"),
    "price_quote": ("가격/견적", "Price / quote"),
    "delivery_delay": ("출고지연", "Delivery delay"),
    "service_complaint": ("서비스불만", "Service complaint"),
}
CATEGORY_KEYS = tuple(CATEGORIES)
CATEGORY_LABELS = tuple(v[0] for v in CATEGORIES.values())

# Topic mix of an ordinary consultation (EV and non-EV models differ: no charging calls for ICE,
# few engine calls for EVs).
MIX_ICE = {
    "engine_noise": 13,
    "warning_light": 11,
    "ev_charging": 0,
    "infotainment": 11,
    "booking": 18,
    "warranty": 10,
    "recall": 3,
    "price_quote": 13,
    "delivery_delay": 7,
    "service_complaint": 8,
}
MIX_EV = {
    "engine_noise": 4,
    "warning_light": 9,
    "ev_charging": 20,
    "infotainment": 13,
    "booking": 12,
    "warranty": 9,
    "recall": 3,
    "price_quote": 10,
    "delivery_delay": 12,
    "service_complaint": 8,
}

# Sentences per topic. Each is what follows "<model> " in a consultation; the words that carry the
# topic (documented as the topic vocabulary) recur across sentences.
TEMPLATES_KO: dict[str, list[str]] = {
    "engine_noise": [
        "주행 중에 엔진 쪽에서 덜덜거리는 소음이 계속 나요",
        "시동 걸 때 엔진 소음이 너무너무 커요",
        "고속도로에서 80키로 넘으면 엔진에서 윙윙 소리가 납니다",
        "가속할 때 엔진 떨림이 심하고 진동이 핸들까지 올라와요",
        "정차 중에 엔진 rpm이 오르락내리락 하면서 소음이 있어요",
        "아침에 냉간 시동시 엔진에서 딱딱 소리 나는데 괜찮은건가요",
        "브레이크 밟을 때 끼익 하는 소음이 나요 엔진 쪽인지 모르겠네요",
        "엔진오일 교환 후에 엔진 소음이 더 커진 것 같아요",
        "변속할 때 덜컹 하면서 충격이 있고 소음도 납니다",
        "에어컨 켜면 엔진룸에서 웅웅 소리가 들려요",
    ],
    "warning_light": [
        "계기판에 엔진 경고등이 들어왔어요 운행해도 되나요",
        "타이어 공기압 경고등이 계속 켜져 있어요",
        "경고등이 깜빡이다가 꺼졌다가 다시 들어와요",
        "브레이크 경고등이 떴는데 어떻게 해야 하나요",
        "배터리 경고등이 들어와서 너무 불안해요",
        "주행 중 갑자기 빨간색 경고등이 켜졌어요",
        "엔진 체크 경고등 점등돼서 서비스센터 가야 하는지 문의드려요",
        "에어백 경고등이 안 꺼집니다",
        "냉각수 경고등이 켜졌다 꺼졌다 반복해요",
    ],
    "ev_charging": [
        "급속 충전기에서 충전이 80%에서 멈춰요",
        "완속 충전이 중간에 자꾸 끊겨요",
        "충전 커넥터가 안 빠져서 한참 고생했어요",
        "충전 속도가 너무 느려요 배터리 문제인가요",
        "겨울 되니까 주행거리가 확 줄고 충전도 오래 걸려요",
        "충전 카드 등록이 안 되고 충전소에서 인식이 안돼요",
        "충전 예약 기능이 작동을 안 해요",
        "초급속 충전 시 충전 오류 메시지가 떠요",
        "집밥 완속 충전기 설치 지원 문의드려요",
    ],
    "infotainment": [
        "내비 지도 업데이트가 안 돼요",
        "블루투스 연결이 자꾸 끊겨요",
        "인포테인먼트 화면이 멈추고 재부팅돼요",
        "안드로이드 오토 연결이 안 됩니다",
        "카플레이 연결하면 화면이 검게 나와요",
        "내비 음성 안내가 안 나와요",
        "네비게이션 경로 안내가 이상하게 나와요",
        "디스플레이 터치가 먹통이에요",
        "후방 카메라 화면이 안 나와요",
    ],
    "booking": [
        "정비 예약 하고 싶은데 이번주 토요일 가능한가요",
        "엔진오일 교환 예약 부탁드립니다",
        "서비스센터 정비예약 시간 변경하고 싶어요",
        "정기점검 예약 문의드려요",
        "블루핸즈 예약이 안 잡혀요 가장 빠른 날짜 알려주세요",
        "타이어 교체 예약 가능할까요",
        "예약 취소하고 다음주로 다시 잡고 싶어요",
        "픽업 서비스로 정비 예약 가능한가요",
        "예약자명 확인 부탁드립니다 정비 예약 했는데 문자가 안 왔어요",
    ],
    "warranty": [
        "보증기간 안에 수리 받을 수 있나요",
        "무상 보증수리 대상인지 확인 부탁드려요",
        "보증 연장 프로그램 가입하고 싶어요",
        "보증수리 받았는데 같은 증상이 또 생겼어요",
        "배터리 보증 기간이 어떻게 되나요",
        "보증수리 거절당했는데 이유를 알고 싶어요",
        "부품 보증 교환 가능한지 문의합니다",
        "보증 기간 만료 전에 점검 받고 싶어요",
    ],
    "recall": [
        "리콜 대상 차량인지 확인하고 싶어요",
        "리콜 통지서를 받았는데 어디서 조치 받나요",
        "리콜 수리 예약은 어떻게 하나요",
        "무상 리콜 조치 받는데 시간이 얼마나 걸리나요",
        "리콜 부품 입고가 언제 되나요",
        "리콜 문자 받았는데 진짜인지 확인 부탁드려요",
    ],
    "price_quote": [
        "견적 받고 싶어요 트림별 가격 알려주세요",
        "할부 조건이랑 금리 문의드려요",
        "이번달 프로모션 할인 있나요",
        "리스 견적 부탁드립니다",
        "장기렌트 월 납입금 견적 문의합니다",
        "보조금 포함 실구매 가격이 얼마인가요",
        "옵션 추가하면 가격이 얼마나 올라가나요",
        "법인 구매시 할인 조건 알려주세요",
        "중고차 보상판매 가격 견적 받을 수 있나요",
    ],
    "delivery_delay": [
        "계약한지 3달 넘었는데 출고가 계속 지연되고 있어요",
        "출고 예정일이 언제인지 알려주세요",
        "반도체 때문에 출고 지연된다는데 얼마나 기다려야 하나요",
        "출고 대기 기간이 너무 길어요 빨리빨리 좀 해주세요",
        "탁송 일정이 또 미뤄졌어요",
        "생산 일정 확인 부탁드립니다 출고가 늦어져요",
        "출고 지연 보상 있나요",
        "인도 날짜가 계속 바뀌어서 너무 답답해요",
    ],
    "service_complaint": [
        "서비스센터 직원이 너무 불친절했어요",
        "상담원 연결이 너무 오래 걸려요 30분 기다렸어요",
        "수리 맡겼는데 연락도 없고 너무 불친절해요",
        "정비 후에 차에 흠집이 생겼는데 응대가 엉망이에요",
        "같은 말을 몇번이나 반복해야 하나요 서비스 불만 접수합니다",
        "딜러가 약속한 혜택을 안 지켜요",
        "전화를 몇번 했는데 아무도 안 받아요",
        "직원 태도가 불친절하고 설명도 제대로 안 해줘요",
    ],
}
TEMPLATES_EN: dict[str, list[str]] = {
    "engine_noise": ["makes a loud engine noise when accelerating", "engine rattles at idle, strange noise"],
    "warning_light": ["check engine warning light came on", "tire pressure warning light stays on"],
    "ev_charging": ["charging stops at 80% on fast chargers", "cannot start charging at public charger"],
    "infotainment": ["navigation map update fails", "bluetooth keeps disconnecting from infotainment"],
    "booking": ["I want to book a service appointment this week", "need to reschedule my service booking"],
    "warranty": ["is this covered by warranty?", "warranty repair was refused, please explain"],
    "recall": ["is my car part of the recall?", "got a recall notice, where do I go"],
    "price_quote": ["please send me a price quote with financing", "any discount or promotion this month?"],
    "delivery_delay": ["my delivery has been delayed for months", "when will my car be delivered?"],
    "service_complaint": ["the service staff was very rude", "waited 40 minutes and nobody answered"],
}
# Planted events (docs/demo-data.md): an OTA update failure wave for EVs and one recall campaign.
OTA_TEMPLATES = [
    "OTA 업데이트 오류가 나서 화면이 멈췄어요",
    "OTA 업데이트 이후에 인포테인먼트가 재부팅돼요",
    "무선 OTA 업데이트 실패 메시지가 계속 떠요",
    "OTA 업데이트 오류 때문에 충전 예약이 안 돼요",
    "OTA 업데이트 하다가 멈춰서 시동이 안 걸려요",
]
RECALL_TEMPLATES = [
    "연료 호스 누유 리콜 통지서 받았어요 언제 조치 가능한가요",
    "화재 위험 리콜 대상이라는데 운행해도 되나요",
    "연료 호스 리콜 부품이 없다고 해서 기다리고 있어요",
    "리콜 통지 받고 서비스센터 갔는데 부품 입고가 안 됐대요",
]

_OPENERS = ["", "", "", "안녕하세요 ", "수고하십니다 ", "저기요 ", "문의드립니다 ", "급해요 "]
_JOINERS = [" ", " 차주인데요 ", " 타는데 ", " 구매했는데 ", "인데요 ", " 관련해서 "]
_CLOSERS = [
    "",
    "",
    "",
    " 빨리 연락 주세요",
    " 확인 부탁드립니다",
    " 어떻게 해야 하나요?",
    " 답변 부탁드려요",
    " 너무 답답하네요",
    " 감사합니다",
]
_EMOTICONS = [
    "",
    "",
    "",
    "",
    " ㅠㅠ",
    " ㅠㅠㅠㅠ",
    " ㅋㅋ",
    " ㅋㅋㅋ",
    " ^^",
    ";;",
    "...",
    "!!",
    "!!!!!",
    "??",
    " ㅡㅡ",
]
_TYPOS = [
    ("안녕하세요", "안녕하세여"),
    ("했는데", "햇는데"),
    ("주세요", "주세여"),
    ("합니다", "함니다"),
    ("되나요", "되나여"),
    ("없어요", "업어요"),
    ("같아요", "가타요"),
    ("너무", "넘"),
]
PLATE_HANGUL = list("가나다라마거너더러머버서어저고노도로모보소오조구누두루무부수우주하허호")


def _pool(rng: np.random.Generator, n: int) -> dict[str, pa.Array]:
    """Pools of personal data snippets in the forms customers actually type."""
    mobile_a, mobile_b = digits(rng, n, 4), digits(rng, n, 4)
    surname = np.array([s for s, _ in SURNAMES], dtype=object)
    given = np.array(["민수", "지영", "서준", "하은", "영호", "미경", "동현", "수진", "재훈", "은지"], dtype=object)
    name = pc.binary_join_element_wise(
        pa.array(surname[rng.integers(0, len(surname), n)], pa.string()),
        pa.array(given[rng.integers(0, len(given), n)], pa.string()),
        "",
    )
    hangul = np.array(PLATE_HANGUL, dtype=object)
    plate_h = pa.array(hangul[rng.integers(0, len(hangul), n)], pa.string())
    return {
        "dash": pc.binary_join_element_wise("010", mobile_a, mobile_b, "-"),
        "plain": pc.binary_join_element_wise("010", mobile_a, mobile_b, ""),
        "intl": pc.binary_join_element_wise("+82 10", mobile_a, mobile_b, " "),
        "email": pc.binary_join_element_wise(
            pc.binary_join_element_wise(pa.array(np.full(n, "user"), pa.string()), digits(rng, n, 5), ""),
            pa.array(np.array(["naver.com", "gmail.com", "daum.net"], dtype=object)[rng.integers(0, 3, n)]),
            "@",
        ),
        "name": name,
        "plate2": pc.binary_join_element_wise(digits(rng, n, 2), plate_h, digits(rng, n, 4), ""),
        "plate3": pc.binary_join_element_wise(digits(rng, n, 3), plate_h, digits(rng, n, 4), ""),
    }


def _apply(text: pa.Array, mask: np.ndarray, func) -> pa.Array:
    """``func`` applied to the rows where ``mask`` holds."""
    if not mask.any():
        return text
    changed = func(pc.filter(text, pa.array(mask)))
    return pc.replace_with_mask(text, pa.array(mask), changed)


def _take(values: Sequence[str], idx: np.ndarray) -> pa.Array:
    return pc.take(pa.array(list(values), pa.string()), pa.array(idx))


def _pii(rng: np.random.Generator, n: int) -> tuple[pa.Array, pa.Array]:
    """A leading and a trailing personal-data snippet per text (mostly empty)."""
    pool_n = min(max(n // 4, 64), 50_000)
    pool = _pool(rng, pool_n)
    pick = rng.integers(0, pool_n, n)
    kind = rng.random(n)
    empty = pa.array(np.full(n, ""), pa.string())

    def snip(key: str, before: str, after: str) -> pa.Array:
        return pc.binary_join_element_wise(before, pc.take(pool[key], pa.array(pick)), after, "")

    # ~8% name, ~6% plate at the start; ~12% a phone number or e-mail at the end.
    lead = pc.if_else(pa.array(kind < 0.08), snip("name", "", " 고객님 "), empty)
    lead = pc.if_else(pa.array((kind >= 0.08) & (kind < 0.11)), snip("plate2", "차량번호 ", " "), lead)
    lead = pc.if_else(pa.array((kind >= 0.11) & (kind < 0.14)), snip("plate3", "", " 차량 "), lead)
    tail_kind = rng.random(n)
    tail = empty
    tail = pc.if_else(pa.array(tail_kind < 0.05), snip("dash", " 연락처 ", ""), tail)
    tail = pc.if_else(pa.array((tail_kind >= 0.05) & (tail_kind < 0.08)), snip("plain", " ", "로 전화주세요"), tail)
    tail = pc.if_else(pa.array((tail_kind >= 0.08) & (tail_kind < 0.10)), snip("intl", " 해외번호 ", ""), tail)
    tail = pc.if_else(
        pa.array((tail_kind >= 0.10) & (tail_kind < 0.12)), snip("email", " 메일 ", " 로 회신 부탁"), tail
    )
    return lead, tail


def render_texts(
    rng: np.random.Generator,
    category_idx: np.ndarray,
    model_idx: np.ndarray,
    *,
    ota: np.ndarray | None = None,
    recall: np.ndarray | None = None,
) -> pa.Array:
    """Texts for the given topics (indices into CATEGORY_KEYS) and models (indices into the line-up).

    ``ota``/``recall`` flag rows that get the planted event sentences.
    """
    n = len(category_idx)
    english = rng.random(n) < C.ENGLISH_SHARE
    # Body sentence: a flat pool of every topic's sentences, indexed by topic offset + choice.
    flat_ko, offsets_ko, sizes_ko = [], [], []
    flat_en, offsets_en, sizes_en = [], [], []
    for key in CATEGORY_KEYS:
        offsets_ko.append(len(flat_ko))
        sizes_ko.append(len(TEMPLATES_KO[key]))
        flat_ko += TEMPLATES_KO[key]
        offsets_en.append(len(flat_en))
        sizes_en.append(len(TEMPLATES_EN[key]))
        flat_en += TEMPLATES_EN[key]
    u = rng.random(n)
    ko_idx = np.array(offsets_ko)[category_idx] + (u * np.array(sizes_ko)[category_idx]).astype(np.int64)
    en_idx = np.array(offsets_en)[category_idx] + (u * np.array(sizes_en)[category_idx]).astype(np.int64)
    body_ko = _take(flat_ko, ko_idx)
    if ota is not None and ota.any():
        body_ko = pc.if_else(pa.array(ota), _take(OTA_TEMPLATES, rng.integers(0, len(OTA_TEMPLATES), n)), body_ko)
    if recall is not None and recall.any():
        body_ko = pc.if_else(
            pa.array(recall), _take(RECALL_TEMPLATES, rng.integers(0, len(RECALL_TEMPLATES), n)), body_ko
        )

    ko_names = _take([m.korean_name for m in V.LINEUP], model_idx)
    en_names = _take([m.model for m in V.LINEUP], model_idx)
    lead, tail = _pii(rng, n)
    ko = pc.binary_join_element_wise(
        _take(_OPENERS, rng.integers(0, len(_OPENERS), n)),
        lead,
        ko_names,
        _take(_JOINERS, rng.integers(0, len(_JOINERS), n)),
        body_ko,
        _take(_CLOSERS, rng.integers(0, len(_CLOSERS), n)),
        tail,
        _take(_EMOTICONS, rng.integers(0, len(_EMOTICONS), n)),
        "",
    )
    en = pc.binary_join_element_wise(en_names, ": ", _take(flat_en, en_idx), tail, "")
    text = pc.if_else(pa.array(english), en, ko)

    # Noise: ~12% typed without spaces, ~15% with typos, ~6% with the last syllable repeated.
    # Each kind is applied to its own subset only, then scattered back.
    noise = rng.random((3, n))
    text = _apply(text, noise[0] < 0.12, lambda t: pc.replace_substring(t, " ", ""))

    def typos(t: pa.Array) -> pa.Array:
        for right, wrong in _TYPOS:
            t = pc.replace_substring(t, right, wrong)
        return t

    text = _apply(text, noise[1] < 0.15, typos)
    text = _apply(text, noise[2] < 0.06, lambda t: pc.replace_substring_regex(t, r"요$", "요요요~~"))
    return text


def sample_categories(rng: np.random.Generator, model_idx: np.ndarray) -> np.ndarray:
    """An ordinary topic for each consultation, given the model (EVs have their own mix)."""
    is_ev = np.array([m.powertrain == "EV" for m in V.LINEUP])[model_idx]
    keys = CATEGORY_KEYS
    ice = np.array([MIX_ICE[k] for k in keys], float)
    ev = np.array([MIX_EV[k] for k in keys], float)
    cum_ice, cum_ev = np.cumsum(ice / ice.sum()), np.cumsum(ev / ev.sum())
    u = rng.random(len(model_idx))
    out = np.where(is_ev, np.searchsorted(cum_ev, u, side="right"), np.searchsorted(cum_ice, u, side="right"))
    return out.clip(0, len(keys) - 1)


def generate_consultation_texts(n: int, seed: int, models: Sequence[str] | None = None) -> pd.DataFrame:
    """``n`` synthetic consultations (text, category, model) for benchmarks and tests.

    ``models``: the models to draw from (uniformly); default the whole demo line-up. ``category``
    is the true topic's Korean agent label (no label noise here; the demo tables add it).
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xC0]))
    names = list(models) if models is not None else list(V.MODEL_NAMES)
    unknown = [m for m in names if m not in V.MODEL_INDEX]
    if unknown:
        from carsight.errors import InputError

        raise InputError(f"unknown demo model(s): {', '.join(unknown)}", expected=", ".join(V.MODEL_NAMES))
    pool = np.array([V.MODEL_INDEX[m] for m in names])
    model_idx = pool[rng.integers(0, len(pool), n)]
    category_idx = sample_categories(rng, model_idx)
    text = render_texts(rng, category_idx, model_idx)
    return pd.DataFrame(
        {
            "text": text.to_pandas(),
            "category": np.array(CATEGORY_LABELS, dtype=object)[category_idx],
            "model": np.array(V.MODEL_NAMES, dtype=object)[model_idx],
        }
    )
