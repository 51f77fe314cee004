"""Regenerate bench/README.md from bench/results/*.json."""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent

HEADER = """# Benchmarks

Every number here is reproduced by the script named in its row (`make bench` runs them all, then this
summary). Results are JSON files in `bench/results/`, with the machine, data size, baseline and commit.
Timings are medians unless a row says otherwise. Machine of record: 2 cores, 24 GiB.

| benchmark | data | result | goal | baseline | command |
|---|---|---|---|---|---|
"""


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def main() -> None:
    rows = []
    for path in sorted((HERE / "results").glob("*.json")):
        r = json.loads(path.read_text())
        data = ", ".join(f"{k}={_fmt(v)}" for k, v in r.get("data", {}).items())
        metrics = "; ".join(
            f"{k}={_fmt(v)}" for k, v in r.get("metrics", {}).items() if not isinstance(v, (dict, list))
        )
        goals = "; ".join(
            f"{k} {g['op']} {_fmt(g['target'])}: {'met' if g['met'] else '**not met**'}"
            for k, g in r.get("goals", {}).items()
        )
        baselines = "; ".join(
            f"{k}: " + (", ".join(f"{m}={_fmt(v)}" for m, v in b.items()) if isinstance(b, dict) else _fmt(b))
            for k, b in r.get("baselines", {}).items()
        )
        rows.append(
            f"| {r['name']} — {r['description']} | {data} | {metrics} | {goals} | {baselines} | `{r['command']}` |"
        )
    notes = []
    for path in sorted((HERE / "results").glob("*.json")):
        r = json.loads(path.read_text())
        if r.get("notes"):
            notes.append(f"- **{r['name']}**: {r['notes']}")
    text = HEADER + "\n".join(rows) + "\n"
    if notes:
        text += "\n## Notes\n\n" + "\n".join(notes) + "\n"
    (HERE / "README.md").write_text(text)
    print(f"bench/README.md: {len(rows)} results")


if __name__ == "__main__":
    main()
