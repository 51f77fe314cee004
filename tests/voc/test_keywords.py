import numpy as np

from carsight.voc.keywords import keyword_frequencies, rank_keywords, rising_keywords


def _corpus():
    rng = np.random.default_rng(0)
    common = ["엔진", "예약", "문의", "차량", "서비스", "연락"]
    docs, groups = [], []
    for group in ("G80", "K5", "EV6"):
        for _ in range(60):
            words = list(rng.choice(common, 3))
            if group == "EV6" and rng.random() < 0.5:
                words.append("충전")  # the planted distinctive word
            docs.append(words)
            groups.append(group)
    return docs, groups


def test_distinctive_keyword_is_found():
    docs, groups = _corpus()
    ranked = rank_keywords(docs, groups, top=3, min_count=3)
    ev6 = ranked[ranked["group"] == "EV6"]
    assert ev6.iloc[0]["keyword"] == "충전"
    assert not (ranked[ranked["group"] != "EV6"]["keyword"] == "충전").any()
    # frequency ranking puts the common words first instead
    by_freq = rank_keywords(docs, groups, top=1, by="frequency", bigrams=False)
    assert by_freq[by_freq["group"] == "EV6"].iloc[0]["keyword"] != "충전" or ev6.iloc[0]["share"] > 0.4


def test_counts_are_per_text_and_bigrams_included():
    docs = [["출고", "지연", "출고", "지연"], ["출고", "지연"], ["엔진"]]
    freq = rank_keywords(docs, None, top=10, min_count=1)
    row = freq.set_index("keyword").loc["출고 지연"]
    assert row["count"] == 2
    assert freq.set_index("keyword").loc["출고", "count"] == 2
    assert keyword_frequencies(docs)["출고"] == 2


def test_thin_groups_are_flagged():
    ranked = rank_keywords([["a", "b"]] * 5 + [["c"]] * 50, ["x"] * 5 + ["y"] * 50, min_count=1)
    assert ranked.set_index("group").loc["x", "thin"].all()
    assert not ranked.set_index("group").loc["y", "thin"]


def test_rising_keyword_is_significant_and_stable_one_is_not():
    rng = np.random.default_rng(1)
    previous = [["예약"] if rng.random() < 0.3 else ["엔진"] for _ in range(400)]
    current = [["예약"] if rng.random() < 0.3 else ["엔진"] for _ in range(400)]
    for i in range(60):
        current[i] = current[i] + ["OTA"]  # new this period
    for i in range(3):
        previous[i] = previous[i] + ["OTA"]
    out = rising_keywords(current, previous, period="2025-07", min_count=5).set_index("keyword")
    assert out.loc["OTA", "significant"]
    assert out.loc["OTA", "count"] == 60 and out.loc["OTA", "previous"] == 3
    assert out.loc["OTA", "ratio"] > 10
    assert "예약" not in out.index or not out.loc["예약", "significant"]
    assert (out["q_value"] >= out["p_value"] - 1e-12).all()


def test_rising_needs_minimum_count_and_corrects_for_many_tests():
    # 2 mentions against 0 is below min_count and is not tested at all
    out = rising_keywords([["새단어"], ["새단어"]] + [["x"]] * 50, [["x"]] * 50, min_count=5)
    assert "새단어" not in set(out["keyword"])
    # Nothing changes between periods, 200 words tested each time: Benjamini-Hochberg keeps the
    # chance of any false "rising" keyword near 5%, where uncorrected p < 0.05 would flag ~8 words.
    vocab = [f"w{i}" for i in range(200)]
    runs_with_discoveries, uncorrected = 0, []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        cur = [list(rng.choice(vocab, 5)) for _ in range(300)]
        prev = [list(rng.choice(vocab, 5)) for _ in range(300)]
        out = rising_keywords(cur, prev, min_count=5)
        runs_with_discoveries += bool(out["significant"].any())
        uncorrected.append(int((out["p_value"] < 0.05).sum()))
    assert runs_with_discoveries <= 3
    assert np.mean(uncorrected) > 3
