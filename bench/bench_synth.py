"""Benchmark the synthetic estate generator: wall time and peak memory per estate size.

Each size runs in a fresh subprocess so that its peak RSS (``resource.getrusage``) is its own.
Usage::

    .venv/bin/python bench/bench_synth.py --sizes 20000 377000 --councils 1 5
    .venv/bin/python bench/bench_synth.py --sizes 377000 --councils 5 --json bench/results/synth.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

_CHILD = """
import json, resource, sys, time
from pathlib import Path
from safeguard.synth import EstateConfig, generate_estate
people, councils, out = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
t0 = time.perf_counter()
summary = generate_estate(EstateConfig(people=people, councils=councils), out / "landing", out / "truth")
wall = time.perf_counter() - t0
rows = sum(n for _, n in summary.rows)
size = sum(p.stat().st_size for p in (out / "landing").rglob("*.csv"))
print(json.dumps({"people": people, "councils": councils, "wall_s": round(wall, 1),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                  "rows_newest_drop": rows, "landing_mb": round(size / 2**20)}))
"""


def run_size(people: int, councils: int) -> dict[str, float]:
    """Generate one estate (default config, truth included) in a subprocess and return its figures."""
    with tempfile.TemporaryDirectory(prefix="bench_synth_") as tmp:
        result = subprocess.run(
            [sys.executable, "-c", _CHILD, str(people), str(councils), tmp],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> list[dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 377_000])
    parser.add_argument("--councils", type=int, nargs="+", default=None,
                        help="councils per size (default: 1 below 100k people, else 5)")  # fmt: skip
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    councils = args.councils or [1 if n < 100_000 else 5 for n in args.sizes]
    if len(councils) != len(args.sizes):
        parser.error("--councils needs one value per size")
    results = [run_size(n, k) for n, k in zip(args.sizes, councils, strict=True)]
    table = Table(title="synth: generate_estate (newest drop + 1 earlier drop + truth)")
    for column in ("people", "councils", "wall_s", "peak_rss_mb", "rows_newest_drop", "landing_mb"):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(*(f"{r[c]:,}" for c in ("people", "councils", "wall_s", "peak_rss_mb",
                                                "rows_newest_drop", "landing_mb")))  # fmt: skip
    Console().print(table)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results


if __name__ == "__main__":
    main()
