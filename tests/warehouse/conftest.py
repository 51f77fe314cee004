"""One local Spark session for every Spark test of the run, and the demo loaded into a Spark warehouse once.

Spark's JVM belongs to the process (``SparkSession.builder.getOrCreate``): every ``spark://`` warehouse
a test opens with :data:`SPARK_CONF` (directly or through the CLI) shares it, so the Spark tests pay
for one JVM start. ``spark_wh`` is the 3,000-customer demo: customers and purchases loaded from the
demo's own files by ``load_file`` (what ``carsight ingest`` runs), the other source tables copied from
the DuckDB demo warehouse. Tests that write result tables take ``spark_copy`` (a copy of its source
tables' files: no Spark job).
"""

from __future__ import annotations

import json
import shutil

import pytest

SPARK_CONF = "master=local[2]&spark.sql.shuffle.partitions=4&spark.default.parallelism=2&spark.ui.enabled=false"
BULK = ("customers", "purchases")


def spark_url(folder) -> str:
    """The ``spark://`` URL of a warehouse in ``folder`` on the tests' shared local session."""
    return f"spark://{folder}?{SPARK_CONF}"


@pytest.fixture(scope="session")
def duck(demo_wh_path):
    """The DuckDB demo warehouse, read-only."""
    from carsight.warehouse import connect

    wh = connect(str(demo_wh_path), read_only=True)
    yield wh
    wh.close()


@pytest.fixture(scope="session")
def spark_wh(tmp_path_factory, demo_files, duck):
    """The demo in a Spark warehouse (treat its source tables as read-only)."""
    from carsight.ingest import load_file
    from carsight.warehouse import connect
    from carsight.warehouse import schema as S

    folder = tmp_path_factory.mktemp("spark-wh")
    wh = connect(spark_url(folder), init=True)
    manifest = json.loads((demo_files / "manifest.json").read_text())["files"]
    reports = {}
    for entry in manifest:
        if entry["table"] in BULK:
            reports[entry["table"]] = load_file(
                wh, entry["table"], demo_files / entry["path"], mapping=entry.get("mapping"),
                constants=entry.get("constants"), year=entry.get("year"), chunk_rows=2_000,
                output_dir=folder / "out",
            )  # fmt: skip
    for name in S.SOURCE_TABLES:
        if name not in BULK:
            wh.replace(name, duck.table(name).to_pyarrow())
    wh.bulk_reports = reports
    return wh


@pytest.fixture
def spark_copy(tmp_path, spark_wh):
    """A writable Spark warehouse holding the demo's source tables (their files copied)."""
    from carsight.warehouse import connect
    from carsight.warehouse import schema as S

    folder = tmp_path / "spark-copy"
    for name in (*S.SOURCE_TABLES, S.SCHEMA_META.name):
        shutil.copytree(spark_wh.folder / name, folder / name)
    wh = connect(spark_url(folder), init=True)
    yield wh
    wh.close()
