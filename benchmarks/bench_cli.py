"""Time `strata --help` (target < 0.5 s): heavy libraries must load only inside commands."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 0.5
RUNS = 7


def main() -> None:
    exe = Path(sys.executable).with_name("strata")
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run([str(exe), "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    med = statistics.median(times)
    verdict = "meets" if med < TARGET_S else "MISSES"
    print(
        f"strata --help: median {med:.3f} s over {RUNS} runs (min {min(times):.3f} s) — {verdict} the {TARGET_S} s target"
    )


if __name__ == "__main__":
    main()
