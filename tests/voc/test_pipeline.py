"""The VoC pipeline step on the demo warehouse: masking in place, classification against the
baseline, and the pre-aggregates that must answer exactly what a raw scan answers."""

import pandas as pd
import pytest

from carsight.warehouse import results_voc as R


@pytest.fixture(scope="module")
def voc_wh(pipeline_wh_path, pipeline_results):
    """The voc step of the shared pipeline run over the demo (tests/conftest.py): the warehouse, the
    step's result and the run's folder (models in ``models/``)."""
    from carsight.warehouse import connect

    wh = connect(str(pipeline_wh_path), read_only=True)
    yield wh, pipeline_results["voc"], pipeline_wh_path.parent
    wh.close()


pytestmark = pytest.mark.slow


def test_nothing_unmasked_stays_in_the_warehouse(voc_wh):
    wh, result, _ = voc_wh
    assert result.status == "done" and result.summary["texts_masked"] > 0
    for table, column in (("consultations", "text"), (R.VOC_CONSULTATIONS.name, "text_masked")):
        texts = wh.table(table).select(column).to_pandas()[column].dropna()
        assert not texts.str.contains(r"01[016789][-. ]?\d{3,4}[-. ]?\d{4}").any()
        assert not texts.str.contains(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[a-z]{2,}").any()
        assert not texts.str.contains(r"(?<!\d)\d{2,3}[가-힣]\d{4}(?!\d)").any()
    masked = wh.table(R.VOC_CONSULTATIONS.name).to_pandas()
    assert masked["text_masked"].str.contains(r"\[전화번호\]").any()
    assert masked["text_masked"].str.contains(r"\[이름\]").any()
    assert set(masked["lang"]) <= {"ko", "en", "und"} and (masked["lang"] == "en").any()


def test_the_words_are_kept_for_the_next_run(voc_wh):
    """Kiwi's analysis of every word is saved beside the models, so a re-run analyses only new words."""
    import json

    from carsight.voc.tokenise import _MASK_RE

    wh, _, root = voc_wh
    (saved,) = (root / "models" / "voc_tokens").glob("words-*.json")
    words = json.loads(saved.read_text("utf-8"))
    texts = wh.table(R.VOC_CONSULTATIONS.name).filter(lambda t: t.lang == "ko").select("text_masked").to_pandas()
    some = {w for text in texts["text_masked"].head(50) for w in _MASK_RE.sub(" ", text).split()}
    assert some and some <= set(words)


def test_classifier_beats_baseline_on_demo(voc_wh):
    wh, result, root = voc_wh
    metrics = wh.table(R.VOC_MODEL_METRICS.name).to_pandas().set_index(["model_name", "metric"])["value"]
    assert metrics[("topic_classifier", "macro_f1")] > metrics[("baseline", "macro_f1")]
    assert (root / "models" / "voc_topic" / "meta.json").is_file()
    confusion = wh.table(R.VOC_CONFUSION.name).to_pandas()
    n_test = int(wh.table(R.VOC_MODEL_METRICS.name).to_pandas()["n_test"].iloc[0])
    assert confusion.groupby("model_name")["count"].sum().eq(n_test).all()
    consultations = wh.table(R.VOC_CONSULTATIONS.name).to_pandas()
    assert consultations["topic"].notna().all()
    assert consultations["needs_review"].eq(consultations["confidence"] < 0.5).all()


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"model": "Sorento"},
        {"topic": "정비예약", "start": "2024-01-01", "end": "2024-06-30"},
        {"model": ["IONIQ 5", "EV6"], "topic": "충전", "start": "2023-03-01"},
    ],
)
def test_top_keywords_equal_a_raw_scan(voc_wh, tokenizer, filters):
    from carsight.voc.aggregate import top_keywords, top_keywords_scan
    from carsight.voc.tokenise import Tokenizer

    wh, _, _ = voc_wh
    fast = top_keywords(wh, n=15, **filters)
    # the pipeline tokenised with the warehouse's model names added to the dictionary
    models = wh.table("vehicles").select("model").to_pandas()["model"].tolist()
    from carsight.voc.tokenise import model_terms

    slow = top_keywords_scan(wh, Tokenizer(model_terms(models)), n=15, **filters)
    assert len(fast) > 0
    pd.testing.assert_frame_equal(fast.reset_index(drop=True), slow.reset_index(drop=True))


def test_daily_aggregates_add_up(voc_wh):
    wh, _, _ = voc_wh
    topics = wh.table(R.VOC_TOPIC_DAILY.name).to_pandas()
    assert topics["count"].sum() == wh.count("consultations")
    rising = wh.table(R.VOC_RISING.name).to_pandas()
    assert {"period", "keyword", "p_value", "q_value"} <= set(rising.columns)
    assert (rising["q_value"] >= rising["p_value"] - 1e-12).all()


def test_topic_counts_and_top_command(voc_wh, capsys):
    from carsight.cli import main
    from carsight.voc.aggregate import top_keywords, topic_counts

    wh, _, root = voc_wh
    counts = topic_counts(wh)
    assert counts["count"].sum() == wh.count("consultations")
    assert counts["count"].is_monotonic_decreasing
    with pytest.raises(SystemExit) as exit_info:
        main(["--warehouse", str(root / "pipeline.duckdb"), "voc", "top", "--model", "Sorento", "--n", "5"])
    assert exit_info.value.code == 0
    shown = capsys.readouterr().out
    for keyword in top_keywords(wh, model="Sorento", n=5)["keyword"]:
        assert keyword in shown
