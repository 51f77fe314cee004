import unicodedata

import pytest

from carsight.voc.normalise import clean_and_mask, mask_pii, normalise_text

MASKED = [
    ("연락처 010-1234-5678 입니다", "[전화번호]"),
    ("010 1234 5678 으로 주세요", "[전화번호]"),
    ("01012345678번으로 전화", "[전화번호]"),
    ("010.1234.5678", "[전화번호]"),
    ("+82 10-1234-5678", "[전화번호]"),
    ("+82-10-1234-5678", "[전화번호]"),
    ("+821012345678", "[전화번호]"),
    ("사무실 02-123-4567", "[전화번호]"),
    ("(02) 123-4567", "[전화번호]"),
    ("031-987-6543 대리점", "[전화번호]"),
    ("070-1234-5678", "[전화번호]"),
    ("연락처010-5948-1340ㅠㅠ", "[전화번호]"),
    ("infotainment01072786484로전화주세요", "[전화번호]"),
    ("메일은 hong.gildong@naver.com 입니다", "[이메일]"),
    ("메일user14368@gmail.com로회신부탁", "[이메일]"),
    ("주민번호 900101-1234567", "[주민번호]"),
    ("9001011234567", "[주민번호]"),
    ("900101-1****** 입니다", "[주민번호]"),
    ("12가3456 차량", "[차량번호]"),
    ("123가4567", "[차량번호]"),
    ("서울12가3456", "[차량번호]"),
    ("차량번호88라6345싼타페", "[차량번호]"),
    ("홍길동 고객님 안녕하세요", "[이름]"),
    ("김민수님 예약 확인", "[이름]"),
    ("고객명: 홍길동", "[이름]"),
    ("예약자명은 박지성입니다", "[이름]"),
    ("급해요임지영고객님쏘나타", "[이름]"),
    ("조수진 고객님 쏘나타", "[이름]"),
]


@pytest.mark.parametrize(("text", "mask"), MASKED)
def test_personal_data_is_masked(text, mask):
    out = clean_and_mask(text)
    assert mask in out
    for digits in ("1234", "5678", "4567", "6543", "3456", "gildong", "naver", "홍길동", "김민수", "박지성", "임지영"):
        if digits in text and digits not in mask:
            assert digits not in out, out


NEAR_MISSES = [
    "가격 3,450만원 견적 부탁",
    "2024-01-05 방문 예정",
    "2024.01.05 에 입고",
    "주행거리 12,000km 입니다",
    "G80 EV6 K5 GV70 문의",
    "부품번호 86511-2S000 재고 있나요",
    "2024년 출고",
    "3번 전화했어요",
    "1588-1234 고객센터에 전화했는데",
    "이번 고객님 불만 접수",
    "기사님 친절했어요",
    "팀장님 연락 부탁",
    "예약자명 변경 부탁드립니다",
    "영하 10도 1000km 주행",
    "3년 10만km 보증",
    "1,000,000원 할인",
]


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_stay(text):
    assert clean_and_mask(text) == normalise_text(text)
    assert "[" not in clean_and_mask(text)


def test_known_customer_name_is_masked_everywhere():
    out = mask_pii("김민수 고객 전화. 민수님 차량 문의, 민수 씨 재방문", ["김민수"])
    assert "김민수" not in out and "민수" not in out


def test_normalisation():
    assert normalise_text("ㅋㅋㅋㅋㅋ 너무 좋아요!!!!!") == "ㅋㅋ 너무 좋아요!!"
    assert normalise_text("ㅠㅠㅠㅠ") == "ㅠㅠ"
    assert normalise_text("ｇ８０\u3000 시승\n\t문의") == "g80 시승 문의"
    # macOS files arrive decomposed (NFD); the text must compare equal to composed Hangul
    assert normalise_text(unicodedata.normalize("NFD", "경고등")) == "경고등"
    # digits are never shortened
    assert normalise_text("1000000원") == "1000000원"
    assert normalise_text(None) == "" and clean_and_mask(float("nan")) == ""


@pytest.mark.parametrize("missing", [None, float("nan"), __import__("pandas").NA, __import__("pandas").NaT])
def test_a_missing_text_stays_empty_never_the_word_nan(missing):
    assert normalise_text(missing) == "" and clean_and_mask(missing) == ""
