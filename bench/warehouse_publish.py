"""What publishing a snapshot for readers costs: the copy a writer makes so that readers never wait
for it (``carsight.warehouse.sharing.publish``), on a demo warehouse of ``--customers`` customers.

Peers measured in the same run: the load the publication follows (``carsight demo``'s load of the
same files), and a plain ``cp`` of the file without copy-on-write (what publishing costs on a file
system without reflinks). The pipeline publishes when it starts and after each step (7 times for
6 steps); its time per run at 50k customers comes from ``bench/results/first_run.json``. The cost
at 1M customers is estimated from the file size, as the copy is linear in bytes.

With ``--warehouse W`` a private copy of an existing warehouse is measured instead (such as a 50k
demo after the whole pipeline, whose result tables make the file bigger than the load alone); the
load peer is then not measured.

Usage: .venv/bin/python bench/warehouse_publish.py [--customers 50000] [--repeat 5] [--warehouse W]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import RESULTS, timed, write_result  # noqa: E402

STEP_PUBLICATIONS = 7  # run start + after each of the 6 steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--warehouse", type=Path, help="measure a copy of this warehouse (no demo is built)")
    args = parser.parse_args()

    from carsight.demo import build_demo
    from carsight.warehouse import Warehouse, open_reader
    from carsight.warehouse.sharing import latest_publication, published_dir

    with tempfile.TemporaryDirectory(prefix="carsight-bench-publish-") as tmp:
        root = Path(tmp)
        path = root / "wh.duckdb"
        if args.warehouse:
            shutil.copy(args.warehouse, path)
            load_s = None
        else:
            print(f"building a {args.customers}-customer demo warehouse…", flush=True)
            with Warehouse(str(path)) as wh:
                wh.init()
                load_s = build_demo(wh, root / "files", args.customers, 7)["seconds"]["load"]
        size_mb = path.stat().st_size / 1e6
        with Warehouse(str(path)) as wh:
            publish_s, timings, _ = timed(lambda: wh.publish(writer="bench"), repeat=args.repeat)
            snapshot = published_dir(path) / latest_publication(path).file
            assert snapshot.stat().st_size == path.stat().st_size
        plain_s, _, _ = timed(
            lambda: subprocess.run(["cp", "--reflink=never", str(path), str(root / "plain.duckdb")], check=True),
            repeat=args.repeat,
        )
        start = time.perf_counter()
        with open_reader(str(path)) as r:
            customers = r.count("customers")
        open_s = time.perf_counter() - start
    assert customers == args.customers
    first_run = json.loads((RESULTS / "first_run.json").read_text())
    pipeline_s = first_run["metrics"]["pipeline_s"] if first_run["data"]["customers"] == args.customers else None
    mb_per_s = size_mb / publish_s
    scale = 1_000_000 / args.customers
    metrics = {
        "file_mb": round(size_mb, 1),
        "publish_s": round(publish_s, 3),
        "publish_timings_s": [round(x, 3) for x in timings],
        "publish_mb_per_s": round(mb_per_s, 1),
        "plain_cp_s": round(plain_s, 3),
        "publish_ratio_to_plain_cp": round(publish_s / plain_s, 2),
        "open_reader_s": round(open_s, 3),
        "estimate_1m_file_gb": round(size_mb * scale / 1000, 2),
        "estimate_1m_publish_s": round(size_mb * scale / mb_per_s, 1),
        "estimate_1m_plain_copy_s": round(plain_s * scale, 1),
    }
    if load_s:
        metrics["load_s"] = round(load_s, 1)
        metrics["publish_ratio_to_load"] = round(publish_s / load_s, 4)
    if pipeline_s:
        metrics["pipeline_s_first_run"] = pipeline_s
        metrics["pipeline_publish_share"] = round(STEP_PUBLICATIONS * publish_s / pipeline_s, 4)
    for key, value in metrics.items():
        print(f"{key}: {value}", flush=True)
    path = write_result(
        "warehouse_publish",
        description="Publishing a snapshot for readers (checkpoint + copy + rename) beside the load it follows and a plain cp",
        data={
            "customers": args.customers,
            "repeat": args.repeat,
            "warehouse": f"a copy of {args.warehouse.name} (after the whole pipeline)"
            if args.warehouse
            else "source tables after carsight demo's load",
        },
        metrics=metrics,
        baselines={
            "plain cp (no reflink)": {"seconds": round(plain_s, 3)},
            **({"the demo load": {"seconds": round(load_s, 1)}} if load_s else {}),
            **({"a 50k pipeline run (first_run.json)": {"seconds": pipeline_s}} if pipeline_s else {}),
        },
        notes="The 1M estimate scales the file linearly with customers (the demo's rows per customer are fixed) "
        "and the copy linearly with bytes. On a copy-on-write file system (btrfs, XFS with reflink) the copy is "
        "a clone and takes milliseconds at any size; the plain cp peer is the cost without one (from the page "
        "cache: a cold disk reads at its own speed). Disk: the snapshot costs one more warehouse file, two "
        "while a publication is being written.",
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
