"""The monthly market report's paragraph on what drove the change against the same month a year before
(carsight.market.drivers): the planted G80 jump of June 2024 is named with its exact numbers."""

from __future__ import annotations

from carsight.config import Settings
from carsight.reports import build_report


def test_market_report_names_the_driver_of_the_change(report_wh, tmp_path):
    settings = Settings(warehouse=str(tmp_path / "unused.duckdb"), output_dir=tmp_path / "out")
    result = build_report(report_wh, settings, "market", "2024-06", fmt="html", lang="en", output=tmp_path / "m.html")
    # 2023-06: 10,400 units; 2024-06: 11,400, all of it G80 (+500 in Korea and in the USA).
    assert "Sales in 2024-06 changed by +1,000 units (+9.6%) against 2023-06." in result.summary
    assert (
        "The biggest contribution came from model=G80 (+1,000 units, 100% of the change); "
        "the 1 segment(s) in the table account for 100% of it." in result.summary
    )
    html = (tmp_path / "m.html").read_text(encoding="utf-8")
    assert "What drove the change in sales" in html and "Share of change" in html
    korean = build_report(report_wh, settings, "market", "2024-06", fmt="html", lang="ko", output=tmp_path / "k.html")
    assert any(s.startswith("2024-06 판매는 2023-06 대비 +1,000대") for s in korean.summary)


def test_no_sales_a_year_before_gives_no_paragraph(report_wh, tmp_path):
    settings = Settings(warehouse=str(tmp_path / "unused.duckdb"), output_dir=tmp_path / "out")
    result = build_report(report_wh, settings, "market", "2023-03", fmt="html", lang="en", output=tmp_path / "m.html")
    assert not [s for s in result.summary if "against 2022-03" in s]
