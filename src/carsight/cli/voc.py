"""``carsight voc …``.

Voice-of-the-customer commands, file in and file out (train, classify, keywords, wordcloud, topics)
and one warehouse query (top).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from carsight.cli.common import console, err_console, parse_pairs, progress, settings, warehouse
from carsight.i18n import t

InputOpt = Annotated[Path, typer.Option("--input", "-i", help="CSV, TSV, Excel or Parquet file (UTF-8 or CP949)")]
TextCol = Annotated[str, typer.Option("--text-col", help="Column holding the text")]
OutputOpt = Annotated[Path, typer.Option("--output", "-o", help="File to write (.csv, .xlsx or .parquet)")]
DictOpt = Annotated[
    list[Path] | None, typer.Option("--dictionary", help="Extra user dictionary file, one term per line (repeatable)")
]


def register(app: typer.Typer) -> None:
    voc = typer.Typer(help="Voice of the customer: masking, topics and keywords of consultation text.")
    voc.command("train", help="Train a topic classifier on labelled texts; prints held-out scores vs a baseline.")(
        train
    )
    voc.command("classify", help="Classify texts with a saved model (label, confidence, needs_review, masked text).")(
        classify
    )
    voc.command("keywords", help="Top keywords overall or per group (frequency or distinctiveness).")(keywords)
    voc.command("wordcloud", help="Word cloud PNG from a file's texts (Korean font bundled).")(wordcloud)
    voc.command("topics", help="Discover topics in unlabelled texts (NMF + c-TF-IDF labels).")(topics)
    voc.command("top", help="Top keywords in the warehouse for a model, topic and date range.")(top)
    app.add_typer(voc, name="voc", no_args_is_help=True)


def _terms(dictionary: list[Path] | None) -> tuple:
    from carsight.voc.tokenise import load_terms

    return load_terms(dictionary or [], builtin=False)


def _masked(frame, column: str) -> list[str]:
    from carsight.voc.normalise import clean_and_mask

    return [clean_and_mask(v) for v in frame[column].tolist()]


def train(
    input: InputOpt,
    text_col: TextCol,
    label_col: Annotated[str, typer.Option("--label-col", help="Column holding the topic label")],
    model_dir: Annotated[Path, typer.Option("--model-dir", help="Directory to save the model in")],
    review_threshold: Annotated[
        float, typer.Option("--review-threshold", min=0.0, max=1.0, help="Below this confidence: needs_review")
    ] = 0.5,
    test_size: Annotated[float, typer.Option("--test-size", min=0.05, max=0.5, help="Held-out share")] = 0.25,
    dictionary: DictOpt = None,
) -> None:
    from rich.table import Table

    from carsight.registry import save_model
    from carsight.voc.classify import MODEL_KIND, TopicClassifier, evaluate
    from carsight.voc.io import read_texts

    lang = settings().lang
    with progress() as bar:
        task = bar.add_task(t("voc.step.read", lang), total=4)
        frame = read_texts(input, [text_col, label_col])
        frame = frame[frame[label_col].notna() & (frame[label_col].astype(str).str.strip() != "")]
        bar.update(task, advance=1, description=t("voc.step.mask", lang))
        texts = _masked(frame, text_col)
        labels = frame[label_col].astype(str).str.strip().tolist()
        bar.update(task, advance=1, description=t("voc.step.train", lang))
        params = {"review_threshold": review_threshold, "terms": _terms(dictionary)}
        report = evaluate(texts, labels, test_size=test_size, classifier=TopicClassifier(**params))
        bar.update(task, advance=1)
        model = TopicClassifier(**params).fit(texts, labels)
        bar.update(task, advance=1, description=t("voc.step.write", lang))
        meta = save_model(
            model_dir,
            model,
            kind=MODEL_KIND,
            params=model.get_params(),
            metrics=report,
            data=frame[[text_col, label_col]].astype(str),
            extra={"input": str(input), "text_col": text_col, "label_col": label_col},
        )
    table = Table(title=t("voc.train.title", lang, n_test=report["n_test"], n_train=report["n_train"]))
    for key in ("model", "accuracy", "macro_f1", "needs_review"):
        table.add_column(t(f"voc.train.{key}", lang), justify="left" if key == "model" else "right")
    for part in (report["model"], report["baseline"]):
        share = part.get("needs_review_share")
        table.add_row(
            part["name"], f"{part['accuracy']:.3f}", f"{part['macro_f1']:.3f}", "" if share is None else f"{share:.1%}"
        )
    console.print(table)
    if report["dropped_labels"]:
        err_console.print(t("voc.train.dropped", lang, labels=", ".join(report["dropped_labels"])))
    if report["warning"]:
        err_console.print(t("voc.warning.thin", lang, message=report["warning"]))
    console.print(t("voc.train.saved", lang, path=model_dir, version=meta.model_version))


def classify(
    model_dir: Annotated[Path, typer.Option("--model-dir", help="Directory of a model saved by `voc train`")],
    input: InputOpt,
    text_col: TextCol,
    output: OutputOpt,
    review_threshold: Annotated[
        float | None, typer.Option("--review-threshold", min=0.0, max=1.0, help="Override the model's threshold")
    ] = None,
) -> None:
    from carsight.registry import load_model
    from carsight.voc.classify import MODEL_KIND
    from carsight.voc.io import read_texts, write_table

    lang = settings().lang
    model, _ = load_model(model_dir, kind=MODEL_KIND)
    if review_threshold is not None:
        model.set_params(review_threshold=review_threshold)
    with progress() as bar:
        task = bar.add_task(t("voc.step.read", lang), total=3)
        frame = read_texts(input, [text_col])
        bar.update(task, advance=1, description=t("voc.step.mask", lang))
        texts = _masked(frame, text_col)
        bar.update(task, advance=1, description=t("voc.step.classify", lang))
        result = model.review(texts) if texts else None
        bar.update(task, advance=1)
    # The unmasked text never reaches the output file.
    out = frame.drop(columns=[text_col])
    out["text_masked"] = texts
    if result is not None:
        out["label"] = result["label"].to_numpy()
        out["confidence"] = result["confidence"].round(4).to_numpy()
        out["needs_review"] = result["needs_review"].to_numpy()
    else:
        out["label"], out["confidence"], out["needs_review"] = [], [], []
    write_table(out, output)
    console.print(t("voc.classify.done", lang, rows=len(out), path=output, review=int(out["needs_review"].sum())))


def keywords(
    input: InputOpt,
    text_col: TextCol,
    output: OutputOpt,
    group_col: Annotated[str | None, typer.Option("--group-col", help="Rank keywords per value of this column")] = None,
    top: Annotated[int, typer.Option("--top", min=1, help="Keywords per group")] = 20,
    by: Annotated[str, typer.Option("--by", help="distinctive (against other groups) or frequency")] = "distinctive",
    min_count: Annotated[int, typer.Option("--min-count", min=1, help="Ignore keywords in fewer texts")] = 3,
    dictionary: DictOpt = None,
) -> None:
    from carsight.voc.io import read_texts, write_table
    from carsight.voc.keywords import rank_keywords
    from carsight.voc.tokenise import Tokenizer

    if by not in ("distinctive", "frequency"):
        raise typer.BadParameter("must be 'distinctive' or 'frequency'", param_hint="--by")
    lang = settings().lang
    with progress() as bar:
        task = bar.add_task(t("voc.step.read", lang), total=3)
        frame = read_texts(input, [text_col] + ([group_col] if group_col else []))
        bar.update(task, advance=1, description=t("voc.step.tokenise", lang))
        tokens = Tokenizer(_terms(dictionary)).tokenize_many(_masked(frame, text_col))
        bar.update(task, advance=1)
        groups = frame[group_col].fillna("").astype(str).tolist() if group_col else None
        ranked = rank_keywords(tokens, groups, top=top, by=by, min_count=min_count)
        bar.update(task, advance=1)
    ranked = ranked.rename(columns={"group": group_col}) if group_col else ranked.drop(columns=["group", "z"])
    write_table(ranked, output)
    console.print(t("voc.keywords.done", lang, rows=len(ranked), path=output))


def wordcloud(
    input: InputOpt,
    text_col: TextCol,
    output: Annotated[Path, typer.Option("--output", "-o", help="PNG file to write")],
    filter: Annotated[
        list[str] | None, typer.Option("--filter", help="COL=VALUE: keep matching rows (repeatable)")
    ] = None,
    width: Annotated[int, typer.Option("--width", min=100, max=8000)] = 1200,
    height: Annotated[int, typer.Option("--height", min=100, max=8000)] = 800,
    max_words: Annotated[int, typer.Option("--max-words", min=5)] = 150,
    dictionary: DictOpt = None,
) -> None:
    from carsight.voc.io import read_texts
    from carsight.voc.keywords import keyword_frequencies
    from carsight.voc.tokenise import Tokenizer
    from carsight.voc.wordcloud import render_wordcloud

    lang = settings().lang
    filters = parse_pairs(filter, "--filter")
    frame = read_texts(input, [text_col], filters=filters)
    tokens = Tokenizer(_terms(dictionary)).tokenize_many(_masked(frame, text_col))
    frequencies = keyword_frequencies(tokens, top=max_words)
    render_wordcloud(frequencies, output, width=width, height=height, max_words=max_words)
    console.print(t("voc.wordcloud.done", lang, path=output, words=len(frequencies), texts=len(frame)))


def topics(
    input: InputOpt,
    text_col: TextCol,
    output: OutputOpt,
    k: Annotated[int, typer.Option("--k", min=2, max=100, help="Number of topics")] = 10,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    dictionary: DictOpt = None,
) -> None:
    from rich.table import Table

    from carsight.voc.io import read_texts, write_table
    from carsight.voc.topics import discover_topics

    lang = settings().lang
    with progress() as bar:
        task = bar.add_task(t("voc.step.read", lang), total=2)
        frame = read_texts(input, [text_col])
        texts = _masked(frame, text_col)
        bar.update(task, advance=1, description=t("voc.step.tokenise", lang))
        assigned, table, warning = discover_topics(texts, k=k, random_state=seed, terms=_terms(dictionary))
        bar.update(task, advance=1)
    out = frame.drop(columns=[text_col])
    out["text_masked"] = texts
    out["topic"] = assigned["topic"].to_numpy()
    out["topic_label"] = assigned["topic_label"].to_numpy()
    write_table(out, output)
    summary_path = output.with_name(f"{output.stem}_topics{output.suffix or '.csv'}")
    write_table(table, summary_path)
    view = Table()
    for key in ("label", "size", "words"):
        view.add_column(t(f"voc.topics.{key}", lang))
    for row in table.itertuples():
        view.add_row(f"{row.topic}: {row.label}", f"{row.size:,}", row.top_words)
    console.print(view)
    if warning:
        err_console.print(t("voc.warning.thin", lang, message=warning))
    console.print(t("voc.topics.done", lang, k=k, path=f"{output}, {summary_path}"))


def top(
    model: Annotated[list[str] | None, typer.Option("--model", help="Car model (repeatable)")] = None,
    topic: Annotated[list[str] | None, typer.Option("--topic", help="Topic (repeatable)")] = None,
    start: Annotated[str | None, typer.Option("--start", help="First day, YYYY-MM-DD")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Last day, YYYY-MM-DD")] = None,
    n: Annotated[int, typer.Option("--n", min=1, help="How many keywords")] = 20,
) -> None:
    import pandas as pd
    from rich.table import Table

    from carsight.errors import InputError
    from carsight.voc.aggregate import top_keywords

    for name, value in (("--start", start), ("--end", end)):
        if value is not None:
            try:
                pd.Timestamp(value)
            except ValueError as exc:
                raise InputError(f"'{value}' is not a date", column=name, expected="YYYY-MM-DD") from exc
    lang = settings().lang
    with warehouse(read_only=True) as wh:
        frame = top_keywords(wh, model=model or None, topic=topic or None, start=start, end=end, n=n)
    view = Table()
    view.add_column(t("voc.top.keyword", lang))
    view.add_column(t("voc.top.count", lang), justify="right")
    for row in frame.itertuples():
        view.add_row(row.keyword, f"{row.count:,}")
    console.print(view)
