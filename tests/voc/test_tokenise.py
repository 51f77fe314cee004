import json

import pytest

from carsight.errors import InputError
from carsight.voc.tokenise import Tokenizer, detect_language, load_terms


def test_compounds_survive_with_domain_dictionary(tokenizer):
    tokens = tokenizer.tokenize("경고등이 켜졌어요 예약자명 변경 부탁드립니다 블루핸즈 보증수리 인포테인먼트 출고지연")
    for word in ("경고등", "예약자명", "블루핸즈", "보증수리", "인포테인먼트", "출고지연"):
        assert word in tokens


def test_plain_kiwi_splits_the_compounds(tokenizer):
    plain = Tokenizer(builtin_dictionary=False, cache_words=False)
    tokens = plain.tokenize("경고등이 켜졌어요 예약자명 변경")
    assert "경고등" not in tokens and "예약자명" not in tokens
    # what plain Kiwi makes of them instead (the field-notes failure: 고등, 자명)
    assert "경고" in tokens


def test_whole_text_and_word_cache_agree_on_compounds(tokenizer):
    uncached = Tokenizer(cache_words=False)
    text = "엔진 경고등이 들어왔어요 예약자명 확인 부탁"
    assert set(tokenizer.tokenize(text)) >= {"경고등", "예약자명"}
    assert set(uncached.tokenize(text)) >= {"경고등", "예약자명"}


def test_model_codes_and_abbreviations_stay_whole(tokenizer):
    tokens = tokenizer.tokenize("G80 화면이 멈춰요 GV70도 그래요 ev6 OTA 업데이트 BDC eCOM")
    for word in ("G80", "GV70", "EV6", "OTA", "BDC", "eCOM", "업데이트"):
        assert word in tokens
    assert "켜지다" in tokenizer.tokenize("경고등이 켜졌어요")


def test_masks_and_stopwords_are_not_keywords(tokenizer):
    tokens = tokenizer.tokenize("[이름] 고객님 안녕하세요 [전화번호]로 연락 부탁드립니다 엔진 소음")
    assert "이름" not in tokens and "전화번호" not in tokens and "고객님" not in tokens
    assert {"엔진", "소음"} <= set(tokens)


def test_english_text(tokenizer):
    tokens = tokenizer.tokenize("The infotainment screen freezes on my EV6 after the OTA update")
    assert tokens == ["infotainment", "screen", "freezes", "EV6", "OTA", "update"]


def test_user_dictionary_file_extends(tmp_path):
    path = tmp_path / "terms.txt"
    path.write_text("# our jargon\n프리미엄케어\t NNG\n", encoding="utf-8")
    tok = Tokenizer(load_terms([path], builtin=False))
    assert "프리미엄케어" in tok.tokenize("프리미엄케어 가입 문의")
    bad = tmp_path / "bad.txt"
    bad.write_text("단어\tXYZ\n", encoding="utf-8")
    with pytest.raises(InputError, match="bad.txt"):
        load_terms([bad])
    with pytest.raises(InputError):
        load_terms([tmp_path / "missing.txt"])


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("엔진 소음이 심해요", "ko"),
        ("G80 엔진 소음", "ko"),
        ("engine noise on my G80", "en"),
        ("Grandeur: 시동 불량", "ko"),
        ("010 [전화번호] 123", "und"),
        ("", "und"),
    ],
)
def test_language_detection(text, lang):
    assert detect_language(text) == lang


def test_a_saved_word_cache_gives_the_same_tokens_without_kiwi(tmp_path, monkeypatch):
    """A re-run reads Kiwi's word analyses from the last run: same tokens, and Kiwi is not needed."""
    from carsight.voc.tokenise import load_word_cache, save_word_cache

    texts = ["엔진 경고등이 켜졌어요 캐시시험", "G80 시승 예약하고 싶어요", "please call me back"]
    tok = Tokenizer((("캐시시험", "NNG"),))  # its own dictionary: its own process-wide cache
    expected = tok.tokenize_many(texts)
    assert "캐시시험" in expected[0]
    saved = save_word_cache(tmp_path, tok)
    tok._cache.clear()  # as in a new process
    assert load_word_cache(tmp_path, tok) == len(json.loads(saved.read_text("utf-8"))) > 0
    monkeypatch.setattr(Tokenizer, "kiwi", property(lambda self: pytest.fail("Kiwi was needed")))
    assert tok.tokenize_many(texts) == expected
    # Another dictionary (or Kiwi version, or options) does not read this file.
    assert load_word_cache(tmp_path, Tokenizer((("다른사전", "NNG"),))) == 0
    assert load_word_cache(tmp_path, Tokenizer((("캐시시험", "NNG"),), predicates=False)) == 0
