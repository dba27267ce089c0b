"""What the store checks cost at national scale: ``lg.load`` with and without the SHA-256 check.

Run (heavy; one heavy job at a time on the shared machine)::

    flock /tmp/longitudinal-heavy.lock .venv/bin/python bench/bench_reliability.py /tmp/wales400k

The study folder (``longitudinal simulate --people 400000 --seed 1 --format parquet``) is copied
twice: as a simulated study (``truth.json``: loaded without a hash check) and as a store whose
``ingest_report.json`` records the tables' SHA-256 (every table checked on load). The difference
is the price of refusing a damaged or half-replaced store. Also times ``check_store`` alone (what
the batch does before it starts).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path


def main() -> None:
    import longitudinal as lg
    from longitudinal.io import sha256_file
    from longitudinal.study import STORE_FILES, STORE_MARKER, check_store

    ap = argparse.ArgumentParser()
    ap.add_argument("study", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sim = Path(tmp) / "sim"
        store = Path(tmp) / "store"
        shutil.copytree(args.study, sim)
        shutil.copytree(args.study, store)
        (store / "truth.json").unlink()
        tables = sorted(p.name for p in store.glob("*.parquet"))
        (store / STORE_MARKER).write_text(json.dumps({STORE_FILES: {n: sha256_file(store / n) for n in tables}}))
        size = sum((store / n).stat().st_size for n in tables) / 1e6
        for label, folder in (("simulated (no check)", sim), ("store (SHA-256 checked)", store)):
            best = min(_time(lambda folder=folder: lg.load(folder)) for _ in range(args.repeat))
            print(f"lg.load, {label}: {best:.2f} s (best of {args.repeat}; {size:.0f} MB of Parquet)")
        best = min(_time(lambda: check_store(store)) for _ in range(args.repeat))
        print(f"check_store (the batch's check before it starts): {best:.3f} s")


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
