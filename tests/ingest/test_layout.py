"""Report sheets read by their layout: made-up sheets with the shapes IR sites and statistics offices
publish (no real file's names or numbers), each with the answer a person would give."""

from __future__ import annotations

import openpyxl
import pandas as pd
import pytest

from carsight.errors import InputError
from carsight.ingest import read_table

BRAND = {"brand": "Maker"}


@pytest.fixture(autouse=True)
def _english(monkeypatch):
    from carsight.config import reset_settings_cache

    monkeypatch.setenv("CARSIGHT_LANG", "en")
    reset_settings_cache()


def _book(path, sheets: dict[str, list[list]]):
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def test_sections_first_row_labels_subtotals_and_a_total_without_details(tmp_path):
    rows = [
        [None, "Y2022 Unit Sales by Model"],
        [],
        [None, "Model", None, "Jan.", "Feb.", "Mar.", "Total"],
        [],
        [None, "Domestic"],
        [None, "PC", "Alpha", 10, 11, None, 21],
        [None, None, "Beta", 5, 0, None, 5],
        [None, None, "Sub-total", 15, 11, None, 26],
        [None, "RV", "Gamma", 7, 8, None, 15],
        [None, None, "Sub-total", 7, 8, None, 15],
        [None, "Total", None, 22, 19, None, 41],
        [None, "Export"],
        [None, "PC", "Alpha", 3, 4, None, 7],
        [None, None, "Sub-total", 3, 4, None, 7],
        [None, "CV", "Sub-total", 2, 2, None, 4],  # a class listed by its total only
        [None, "Total", None, 5, 6, None, 11],
        [None, "Grand Total", None, 27, 25, None, 52],
        [None, "* footnote: CBU only"],
    ]
    result = read_table(
        _book(tmp_path / "sales-by-model-y2022.xlsx", {"Units": rows}), "sales_monthly", constants=BRAND
    )
    frame = result.frame
    assert frame["units"].sum() == 52  # the Grand Total: no subtotal counted, the CV total kept
    assert set(frame["month"]) == {pd.Timestamp("2022-01-01"), pd.Timestamp("2022-02-01")}  # Mar. not reported yet
    domestic = frame[frame.kind == "domestic"]
    assert set(domestic["market"]) == {"Korea"} and set(frame[frame.kind == "export"]["market"]) == {"(all)"}
    beta = frame[frame.model == "Beta"].iloc[0]
    assert (beta.vehicle_class, beta.kind) == ("PC", "domestic")  # carried down from the block's first row
    cv = frame[frame.vehicle_class == "CV"]
    assert set(cv["model"]) == {"(all)"} and cv["units"].sum() == 4
    assert any("no detail rows" in n for n in result.notes) and any("Korea" in n for n in result.notes)


def test_block_footers_name_their_rows_and_markets_are_columns(tmp_path):
    rows = [
        ["Retail Sales by Country_2023"],
        ["Model / Plant", None, "Total", "Korea", "U.S.A", "*Europe"],
        [None, "Alpha", 6, 1, 2, 3],
        [None, "Beta", 4, 4, 0, 0],
        ["North Plant", None, 10, 5, 2, 3],
        [None, "Alpha", 5, 0, 5, 0],
        ["South Plant", None, 5, 0, 5, 0],
        ["Total", None, 15, 5, 7, 3],
    ]
    path = _book(tmp_path / "retail.xlsx", {"Feb": rows})
    result = read_table(path, "sales_monthly", constants=BRAND)
    frame = result.frame
    assert frame["units"].sum() == 15
    assert set(frame["market"]) == {"Korea", "USA", "Europe"}  # header spellings made one
    alpha = frame[frame.model == "Alpha"].groupby("plant")["units"].sum().to_dict()
    assert alpha == {"North Plant": 6, "South Plant": 5}  # the same model from two plants: two rows
    assert set(frame["month"]) == {pd.Timestamp("2023-02-01")}  # month from the sheet, year from the title
    assert set(frame["kind"]) == {"retail"}


def test_group_rows_found_by_arithmetic(tmp_path):
    months = [f"2022-{m:02d}-01" for m in range(1, 8)]
    brands = {"Renault": [10, 12, 9, 14, 11, 10, 13], "Dacia": [5, 6, 7, 5, 6, 8, 5], "Alpine": [1, 0, 2, 1, 1, 1, 0]}
    group = [sum(v) for v in zip(*brands.values(), strict=True)]
    group[3] += 1  # a published group total revised apart from its members
    rows = [[None, *months], ["Renault Group", *group], *[[b, *v] for b, v in brands.items()], ["Mazda", *[3] * 7]]
    result = read_table(_book(tmp_path / "registrations (Europe).xlsx", {"2022": rows}), "sales_monthly")
    frame = result.frame
    assert frame["units"].sum() == sum(map(sum, brands.values())) + 21  # the group row is not added again
    assert set(frame["brand"]) == {"Renault", "Dacia", "Alpine", "Mazda"}  # values, not a header, say "brand"
    assert set(frame["market"]) == {"Europe"} and set(frame["model"]) == {"(all)"}


def test_values_carry_the_recognition_under_any_header(tmp_path):
    path = tmp_path / "export_2022.csv"
    path.write_text(
        "Typ,Ziel,Jan,Feb\nPassenger Car,U.S.A.,5,6\nRecreational Vehicle,U.S.A.,7,8\nTotal,U.S.A.,12,14\n"
        "Passenger Car,Canada,1,1\nTotal,Canada,1,1\n",
        encoding="utf-8",
    )
    result = read_table(path, "sales_monthly", constants=BRAND)
    frame = result.frame
    assert frame["units"].sum() == 28 and set(frame["kind"]) == {"export"}
    assert set(frame["vehicle_class"]) == {"PC", "RV"} and set(frame["market"]) == {"USA", "Canada"}
    assert any("'Typ' → vehicle_class" in n for n in result.notes)


def test_month_names_in_a_column_with_the_year_from_the_file_name(tmp_path):
    path = tmp_path / "local_sales_2021.CSV"
    path.write_text(
        'Model,Site,Month,Korea,India\n"K7,8",Main Plant,January,1,-1\nK9,Main Plant,Febuary,2,0\n'
        "K9,Main Plant,March,,\n",
        encoding="utf-8",
    )
    frame = read_table(path, "sales_monthly", constants=BRAND).frame
    k7 = frame[frame.model == "K7,8"].set_index("market")["units"].to_dict()
    assert k7 == {"Korea": 1, "India": -1}  # a correction stays negative
    assert set(frame["month"]) == {pd.Timestamp(f"2021-0{m}-01") for m in (1, 2, 3)}
    assert frame[frame.month == pd.Timestamp("2021-03-01")]["units"].tolist() == [0, 0]  # a blank figure is 0


def test_domestic_in_a_table_by_plant_is_the_plants_country(tmp_path):
    rows = [
        ["Y2022 Global Plant Sales"],
        ["Overseas Plants", None, "Jan.", "Feb."],
        ["HMI"],
        ["Domestic", "Alpha", 5, 6],
        ["Export", "Alpha", 1, 2],
        ["Total", None, 6, 8],
        ["Slovakia Plant"],
        ["Domestic", "Beta", 3, 3],
        ["Total", None, 3, 3],
    ]
    frame = read_table(_book(tmp_path / "plants.xlsx", {"Plants": rows}), "sales_monthly", constants=BRAND).frame
    assert set(frame["kind"]) == {"overseas_plant"}
    assert frame.groupby("market")["units"].sum().to_dict() == {"India": 11, "(all)": 3, "Slovakia": 6}


def test_rows_that_share_a_key_are_summed_and_said(tmp_path):
    path = tmp_path / "sales.csv"
    path.write_text(
        "brand,model,fuel,month,units\nMaker,Alpha,가솔린,2022-01,5\nMaker,Alpha,LPG,2022-01,2\nMaker,Beta,가솔린,2022-01,1\n",
        encoding="utf-8",
    )
    result = read_table(path, "sales_monthly")
    assert result.frame.set_index("model")["units"].to_dict() == {"Alpha": 7, "Beta": 1}
    assert any("summed" in n and "fuel" in n for n in result.notes)


def test_a_workbook_with_a_total_sheet_is_not_counted_twice(tmp_path):
    header = ["Model", "Jan"]
    path = _book(
        tmp_path / "book_2022.xlsx",
        {"Total": [header, ["Alpha", 9]], "Jan": [header, ["Alpha", 4]], "Feb": [["Model", "Feb"], ["Alpha", 5]]},
    )
    result = read_table(path, "sales_monthly", constants=BRAND)
    assert result.frame["units"].sum() == 9 and len(result.frame) == 2
    assert any("Total" in n and "skipped" in n for n in result.notes)
    only = read_table(path, "sales_monthly", constants=BRAND, sheet="Feb")
    assert only.frame["units"].tolist() == [5]


def test_sheets_without_monthly_figures_are_refused_with_the_reason(tmp_path):
    yearly = tmp_path / "production.csv"
    yearly.write_text("Country,2023,2022\nKorea,10,9\n", encoding="utf-8")
    with pytest.raises(InputError, match="yearly figures"):
        read_table(yearly, "sales_monthly", constants=BRAND)
    path = _book(tmp_path / "stats.xlsx", {"A": [["region", "cars", "vans"], ["Seoul", 1, 2]], "B": [["x"], [None]]})
    with pytest.raises(InputError, match="no sheet of this workbook fits sales_monthly: A: .*; B: "):
        read_table(path, "sales_monthly", constants=BRAND)
    numbers = tmp_path / "plants.numbers"
    numbers.write_bytes(b"PK\x03\x04not a workbook")
    with pytest.raises(InputError, match="Apple Numbers"):
        read_table(numbers, "sales_monthly", constants=BRAND)


def test_map_and_set_win_over_what_the_values_say(tmp_path):
    path = tmp_path / "export_2022.csv"
    path.write_text("Typ,Ziel,Jan\nPassenger Car,U.S.A.,5\n", encoding="utf-8")
    frame = read_table(
        path, "sales_monthly", constants={**BRAND, "kind": "domestic", "market": "Korea"}, mapping={"Typ": "model"}
    ).frame
    row = frame.iloc[0]
    assert (row.model, row.vehicle_class, row.kind, row.market) == ("Passenger Car", "(all)", "domestic", "USA")
