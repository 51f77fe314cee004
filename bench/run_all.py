"""Run every benchmark script in bench/ (one process each, in name order), then regenerate the summary.

Usage: .venv/bin/python bench/run_all.py [substring ...]  (only scripts whose name contains a substring)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main() -> int:
    wanted = sys.argv[1:]
    scripts = sorted(
        p for p in HERE.glob("*.py") if not p.name.startswith("_") and p.name not in {"run_all.py", "summarise.py"}
    )
    if wanted:
        scripts = [p for p in scripts if any(w in p.name for w in wanted)]
    failed = []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        if subprocess.run([sys.executable, str(script)]).returncode != 0:
            failed.append(script.name)
    subprocess.run([sys.executable, str(HERE / "summarise.py")], check=True)
    if failed:
        print("failed: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
