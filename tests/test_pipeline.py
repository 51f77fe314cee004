"""The pipeline runs the steps asked for, in order, and refuses a step it does not know."""

from __future__ import annotations

import pytest

from carsight.config import Settings
from carsight.errors import InputError
from carsight.pipeline import STEPS, run_pipeline, select_steps
from carsight.warehouse.sharing import duckdb_file


def test_a_misspelt_step_is_an_error_before_anything_runs(tmp_warehouse):
    with pytest.raises(InputError) as info:
        run_pipeline(tmp_warehouse, Settings(), steps=["customers", "custmers"])
    assert "unknown step 'custmers'" in str(info.value)
    assert all(s.name in str(info.value) for s in STEPS)
    # The valid step named first did not run either.
    assert tmp_warehouse.count("customer_rfm") == 0


def test_selected_steps_run_in_pipeline_order():
    assert [s.name for s in select_steps(["drivers", "customers"])] == ["customers", "drivers"]
    assert [s.name for s in select_steps(None)] == [s.name for s in STEPS]


def _fake_steps(monkeypatch, seen: list, fail_at: str | None = None):
    """Two quick steps in place of the real ones; each notes what a reader sees while it runs."""
    from carsight import pipeline
    from carsight.warehouse import open_reader
    from carsight.warehouse import schema as S
    from carsight.warehouse.results_customers import CUSTOMER_RFM
    from carsight.warehouse.results_voc import VOC_RISING

    def step(name):
        def run(wh, settings):
            with open_reader(str(duckdb_file(wh.url))) as r:  # the writer holds the file
                status = r.table(S.PIPELINE_STATUS.name).to_pandas().set_index("step").status.to_dict()
                seen.append((name, r.publication.writer, status))
            if name == fail_at:
                raise RuntimeError("the data broke")
            return {"rows": 1}

        return run

    fakes = (
        pipeline.Step("first", step("first"), "first step", (CUSTOMER_RFM,)),
        pipeline.Step("second", step("second"), "second step", (VOC_RISING,)),
    )
    monkeypatch.setattr(pipeline, "STEPS", fakes)


def test_a_run_records_each_step_and_publishes_when_it_starts_and_after_each_step(tmp_warehouse, monkeypatch):
    from carsight.warehouse import open_reader
    from carsight.warehouse import schema as S
    from carsight.warehouse.sharing import latest_publication

    seen: list = []
    _fake_steps(monkeypatch, seen)
    results = run_pipeline(tmp_warehouse, Settings())
    assert [r.name for r in results] == ["first", "second"]
    # Readers see the run's progress while it holds the file: the first step running, then done.
    assert seen == [
        ("first", "pipeline", {"first": S.RUNNING, "second": S.PENDING}),
        ("second", "pipeline", {"first": S.DONE, "second": S.PENDING}),
    ]
    # The last snapshot stays published after the run: readers never need the writer's file.
    publication = latest_publication(duckdb_file(tmp_warehouse.url))
    assert (publication.writer, publication.detail) == ("pipeline", "2/2")
    with open_reader(str(duckdb_file(tmp_warehouse.url))) as r:
        assert r.table(S.PIPELINE_STATUS.name).to_pandas().status.tolist() == [S.DONE, S.DONE]
    status = tmp_warehouse.table(S.PIPELINE_STATUS.name).to_pandas().sort_values("position")
    assert status.step.tolist() == ["first", "second"]
    assert status.status.tolist() == [S.DONE, S.DONE]
    assert status.tables.tolist() == ["customer_rfm", "voc_rising"]
    assert status.seconds.notna().all() and status.run_id.nunique() == 1


def test_a_failing_step_is_recorded_with_its_reason_and_stops_the_run(tmp_warehouse, monkeypatch):
    from carsight.warehouse import schema as S

    seen: list = []
    _fake_steps(monkeypatch, seen, fail_at="first")
    with pytest.raises(RuntimeError, match="the data broke"):
        run_pipeline(tmp_warehouse, Settings())
    assert [name for name, *_ in seen] == ["first"]
    status = tmp_warehouse.table(S.PIPELINE_STATUS.name).to_pandas().set_index("step")
    assert status.loc["first", "status"] == S.FAILED
    assert "the data broke" in status.loc["first", "message"]
    assert status.loc["second", "status"] == S.PENDING


def test_every_step_declares_the_result_tables_it_writes():
    from carsight.warehouse.results import RESULT_TABLES
    from carsight.warehouse.results_delivery import TABLES as DELIVERY_TABLES
    from carsight.warehouse.results_monitor import TABLES as MONITOR_TABLES

    declared = [t.name for s in STEPS for t in s.tables]
    assert len(declared) == len(set(declared))  # one step per table
    # Every result table except the delivery edges' bookkeeping and the monitor's own record (written by
    # `carsight monitor run`, not a pipeline step) is some step's output.
    bookkeeping = {t.name for t in (*DELIVERY_TABLES, *MONITOR_TABLES)}
    assert set(declared) == set(RESULT_TABLES) - bookkeeping
