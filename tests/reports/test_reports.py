"""Monthly reports: the numbers and the sentences come from the data (planted changes in June
2024 must be named), PDFs carry Korean text, and an optional language model fails soft."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from carsight.config import LlmSettings, Settings
from carsight.errors import InputError
from carsight.reports import build_report


@pytest.fixture
def settings(tmp_path):
    return Settings(warehouse=str(tmp_path / "unused.duckdb"), output_dir=tmp_path / "out")


def test_customers_report_names_the_planted_mover(report_wh, settings, tmp_path):
    result = build_report(
        report_wh, settings, "customers", "2024-06", fmt="html", lang="en", output=tmp_path / "c.html"
    )
    html = result.path.read_text(encoding="utf-8")
    # 70 purchases a month, plus 40 extra Palisades in June 2024.
    assert "110 purchases this month, +57.1% against last month (70)." in result.summary
    assert "Palisade rose the most: 20 → 60 (+40)." in result.summary
    assert "Against the same month last year (70) that is +57.1%." in result.summary
    assert "data:image/png;base64," in html
    assert "Palisade rose the most" in html
    # No RFM results in this warehouse: the report says so instead of failing.
    assert any("carsight pipeline run" in n for n in result.notes)


def test_market_and_voc_reports_in_korean(report_wh, settings, tmp_path):
    market = build_report(report_wh, settings, "market", "2024-06", fmt="html", lang="ko", output=tmp_path / "m.html")
    assert "G80이(가) 가장 크게 늘었습니다: 3,200 → 4,200 (+1,000)." in market.summary
    assert "이달 판매량은 11,400대로 전월 대비 +9.6%입니다." in market.summary
    voc = build_report(report_wh, settings, "voc", "2024-06", fmt="html", lang="ko", output=tmp_path / "v.html")
    assert "'경고등' 상담이 8건에서 30건으로 가장 많이 늘었습니다(+275%)." in voc.summary


def test_month_without_data_says_so(report_wh, settings, tmp_path):
    result = build_report(report_wh, settings, "market", "2030-01", fmt="html", lang="en", output=tmp_path / "x.html")
    assert any("no monthly sales data for 2030-01" in n for n in result.notes)


def test_bad_arguments_are_input_errors(report_wh, settings):
    with pytest.raises(InputError, match="period"):
        build_report(report_wh, settings, "customers", "June 2024")
    with pytest.raises(InputError, match="unknown report"):
        build_report(report_wh, settings, "sales", "2024-06")
    with pytest.raises(InputError, match="unknown format"):
        build_report(report_wh, settings, "voc", "2024-06", fmt="docx")


def test_run_is_logged(report_wh, settings, tmp_path):
    build_report(report_wh, settings, "voc", "2024-06", fmt="html", lang="en", output=tmp_path / "v.html")
    runs = report_wh.table("report_runs").to_pandas()
    assert list(runs.kind) == ["voc"] and list(runs.period) == ["2024-06"]


@pytest.mark.slow
def test_pdf_has_korean_text_and_renders(report_wh, settings, tmp_path):
    # Never a skip: `make test` installs poppler-utils through scripts/system-deps.sh.
    for tool in ("pdftotext", "pdftoppm", "pdffonts"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} not found: install poppler-utils (bash scripts/system-deps.sh, which make test runs)")
    result = build_report(report_wh, settings, "customers", "2024-06", fmt="pdf", lang="ko", output=tmp_path / "c.pdf")
    assert result.path.read_bytes()[:5] == b"%PDF-"
    text = subprocess.run(
        ["pdftotext", "-layout", str(result.path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "고객 월간 보고서 · 2024-06" in text
    assert "이달의 주요 지표" in text
    assert "Palisade" in text and "110" in text
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(result.path), str(tmp_path / "page")], check=True
    )
    page = next(tmp_path.glob("page*.png"))
    assert page.stat().st_size > 10_000
    # The embedded font is the bundled Korean one (no fallback to a font without Hangul).
    fonts = subprocess.run(["pdffonts", str(result.path)], capture_output=True, text=True).stdout
    assert "NanumGothic" in fonts


class _FakeLlm(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _FakeLlm.received.append((self.path, self.headers.get("Authorization"), body))
        reply = {"choices": [{"message": {"content": "판매가 늘었습니다."}}]}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_llm_narrative_is_optional_and_fails_soft(report_wh, tmp_path):
    server = HTTPServer(("127.0.0.1", 0), _FakeLlm)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/v1"
        ok = Settings(output_dir=tmp_path, llm=LlmSettings(base_url=url, api_key="k-123", timeout_s=5))
        result = build_report(report_wh, ok, "voc", "2024-06", fmt="html", lang="ko", output=tmp_path / "a.html")
        assert "판매가 늘었습니다." in result.path.read_text(encoding="utf-8")
        path, auth, body = _FakeLlm.received[-1]
        assert path == "/v1/chat/completions" and auth == "Bearer k-123"
        # Only computed sentences go out, never customer rows.
        assert "경고등" in body["messages"][1]["content"]
    finally:
        server.shutdown()
    down = Settings(output_dir=tmp_path, llm=LlmSettings(base_url=url, timeout_s=1))
    result = build_report(report_wh, down, "voc", "2024-06", fmt="html", lang="en", output=tmp_path / "b.html")
    assert result.path.exists()
    assert any("could not be generated" in n for n in result.notes)


def test_market_report_flags_forecast_risks(report_wh, settings, tmp_path):
    import pandas as pd

    months = pd.date_range("2025-01-01", periods=3, freq="MS").date
    rows = []
    for uid, level, market, monthly in (
        ("Total", "total", None, 10_000),
        ("market:Korea", "market", "Korea", 4_000),
        ("market:USA", "market", "USA", 6_000),
    ):
        for ds in months:
            rows.append({"unique_id": uid, "level": level, "brand": None, "model": None, "market": market, "ds": ds, "model_name": "AutoETS",
                         "yhat": float(monthly), "yhat_lo_80": monthly * 0.9, "yhat_hi_80": monthly * 1.1, "yhat_lo_95": monthly * 0.8, "yhat_hi_95": monthly * 1.2})  # fmt: skip
    report_wh.replace("forecasts", pd.DataFrame(rows))
    report_wh.replace(
        "forecast_choice",
        pd.DataFrame(
            {
                "unique_id": ["Total", "market:Korea", "market:USA"],
                "level": ["total", "market", "market"],
                "series_class": "seasonal",
                "model_name": "AutoETS",
                "mase": [0.6, 1.1, 0.8],
                "mase_snaive": 1.0,
                "baseline": "SeasonalNaive",
                "h_backtest": 6,
                "n_months": 24,
                "coverage_80": 0.8,
                "coverage_95": 0.9,
                "reconciliation": "mint_shrink",
                "warning": None,
            }  # fmt: skip
        ),
    )
    result = build_report(report_wh, settings, "market", "2024-12", fmt="html", lang="en", output=tmp_path / "m.html")
    # Last year's January–March: 5,200 units a month in each of the two markets.
    assert (
        "The three months from 2025-01 are forecast at 30,000 units (80% interval 27,000–33,000), -3.8% against the same months a year before."
        in result.summary
    )
    assert "Risk: Korea is forecast to fall the most, -23.1% against a year before." in result.summary
    assert any("did not beat the seasonal-naive baseline" in s and "market:Korea" in s for s in result.summary)


@pytest.mark.slow
def test_demo_reports_use_the_pipeline_results(pipeline_wh_path, tmp_path):
    from carsight.warehouse import connect

    settings = Settings(warehouse=str(pipeline_wh_path), output_dir=tmp_path)
    with connect(str(pipeline_wh_path), read_only=True) as wh:
        last = wh.table("purchases").purchase_date.max().to_pyarrow().as_py()
        period = f"{last:%Y-%m}"
        customers = build_report(wh, settings, "customers", period, fmt="html", lang="en", output=tmp_path / "c.html")
        voc = build_report(wh, settings, "voc", period, fmt="html", lang="ko", output=tmp_path / "v.html")
        market = build_report(wh, settings, "market", period, fmt="html", lang="en", output=tmp_path / "m.html")
    html = customers.path.read_text(encoding="utf-8")
    assert "RFM customer groups" in html and "VIP customers are" in " ".join(customers.summary)
    assert "Response by propensity grade" in html
    assert "떠오르는 키워드" in voc.path.read_text(encoding="utf-8")
    assert "Forecasts and risks" in market.path.read_text(encoding="utf-8")


def test_empty_warehouse_gives_notes_not_errors(tmp_warehouse, settings, tmp_path):
    for kind in ("customers", "market", "voc"):
        result = build_report(tmp_warehouse, settings, kind, "2024-06", lang="en", output=tmp_path / f"{kind}.html")
        assert result.summary == []
        assert any("no " in n and "data for 2024-06" in n for n in result.notes)
        assert "No changes to summarise for this month." in result.path.read_text(encoding="utf-8")
