"""`carsight voc …` end to end: classify in a real process, the rest in-process (Kiwi is built once)."""

import os
import subprocess
import sys

import pandas as pd
import pytest

CLI = [sys.executable, "-c", "from carsight.cli import main; main()"]


@pytest.fixture(scope="module")
def labelled_file(tmp_path_factory, labelled):
    """A CP949 CSV with Korean headers and personal data in the text, as call centres export them."""
    path = tmp_path_factory.mktemp("voc-cli") / "상담이력.csv"
    frame = labelled.rename(columns={"text": "상담내용", "category": "분류", "model": "차종"}).head(400).copy()
    frame.loc[0, "상담내용"] = "홍길동 고객님 010-9876-5432 블루투스 연결이 자꾸 끊겨요"
    frame.to_csv(path, index=False, encoding="cp949", errors="replace")
    return path


def _run(args, cwd):
    env = {**os.environ, "CARSIGHT_LANG": "en"}
    return subprocess.run(CLI + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _main(args, capsys):
    from carsight.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(args)
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


@pytest.mark.slow
def test_train_then_classify_in_a_real_process(labelled_file, tmp_path, capsys):
    model_dir = tmp_path / "model"
    code, out, err = _main(
        [
            "--lang",
            "en",
            "voc",
            "train",
            "--input",
            str(labelled_file),
            "--text-col",
            "상담내용",
            "--label-col",
            "분류",
            "--model-dir",
            str(model_dir),
        ],
        capsys,
    )
    assert code == 0, err
    assert "Macro-F1" in out and "whitespace TF-IDF" in out
    assert (model_dir / "meta.json").is_file() and (model_dir / "model.joblib").is_file()

    output = tmp_path / "classified.csv"
    done = _run(
        [
            "voc",
            "classify",
            "--model-dir",
            str(model_dir),
            "--input",
            str(labelled_file),
            "--text-col",
            "상담내용",
            "--output",
            str(output),
        ],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    result = pd.read_csv(output, encoding="utf-8-sig")
    assert {"label", "confidence", "needs_review", "text_masked", "분류", "차종"} <= set(result.columns)
    assert "상담내용" not in result.columns  # the unmasked text is not copied out
    assert len(result) == 400
    first = result.iloc[0]
    assert first["text_masked"].startswith("[이름] 고객님 [전화번호]") and first["label"] == "인포테인먼트/내비"
    assert (result["label"] == result["분류"]).mean() > 0.8
    assert result["confidence"].between(0, 1).all()


def test_keywords_wordcloud_topics(labelled_file, tmp_path, capsys):
    keywords = tmp_path / "k.csv"
    code, _, err = _main(
        [
            "voc",
            "keywords",
            "-i",
            str(labelled_file),
            "--text-col",
            "상담내용",
            "--group-col",
            "분류",
            "--top",
            "5",
            "-o",
            str(keywords),
        ],
        capsys,
    )
    assert code == 0, err
    ranked = pd.read_csv(keywords, encoding="utf-8-sig")
    top = ranked[ranked["rank"] == 1].set_index("분류")["keyword"]
    assert top["충전"] == "충전" and top["리콜"] == "리콜"
    assert not ranked["keyword"].str.contains("전화번호|이름").any()

    png = tmp_path / "w.png"
    code, _, err = _main(
        [
            "voc",
            "wordcloud",
            "-i",
            str(labelled_file),
            "--text-col",
            "상담내용",
            "--filter",
            "차종=Kona",
            "--width",
            "400",
            "--height",
            "300",
            "-o",
            str(png),
        ],
        capsys,
    )
    assert code == 0, err
    assert png.read_bytes()[:4] == b"\x89PNG"

    topics = tmp_path / "t.csv"
    code, out, err = _main(
        ["voc", "topics", "-i", str(labelled_file), "--text-col", "상담내용", "--k", "8", "-o", str(topics)], capsys
    )
    assert code == 0, err
    assigned = pd.read_csv(topics, encoding="utf-8-sig")
    summary = pd.read_csv(tmp_path / "t_topics.csv", encoding="utf-8-sig")
    assert len(assigned) == 400 and assigned["topic"].nunique() >= 6 and len(summary) == 8


def test_missing_column_is_one_clear_line(labelled_file, tmp_path, capsys):
    code, _, err = _main(
        ["voc", "keywords", "-i", str(labelled_file), "--text-col", "본문", "-o", str(tmp_path / "k.csv")], capsys
    )
    assert code == 2
    assert "본문" in err and "상담내용" in err and "Traceback" not in err
