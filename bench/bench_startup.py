"""Start-up time of `distilleval --help`, side by side with bare Python and a LiteLLM import.

Run: python bench/bench_startup.py [--runs 15]
Prints the median wall time of each command over the same interleaved runs and the ratios,
so machine noise hits all three alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

LITELLM = "python -c 'import litellm'"
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "distilleval --help": [sys.executable, "-m", "distilleval", "--help"],
    LITELLM: [sys.executable, "-c", "import litellm"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    env = {**os.environ, "LITELLM_OFFLINE_MODE": "true"}
    timings: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.runs):
        for name, command in COMMANDS.items():
            started = time.perf_counter()
            subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            timings[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(values) for name, values in timings.items()}
    bare = medians["python -c pass"]
    print(f"{'command':32} {'median s':>9} {'x bare python':>14}")
    for name, value in medians.items():
        print(f"{name:32} {value:9.3f} {value / bare:14.1f}")
    help_s = medians["distilleval --help"]
    print(f"\ndistilleval --help: {help_s * 1000:.0f} ms; its own cost over bare Python {(help_s - bare) * 1000:.0f} ms; "
          f"{medians[LITELLM] / help_s:.1f}x faster than importing LiteLLM")


if __name__ == "__main__":
    main()
