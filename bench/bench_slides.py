"""Measure a real BANKING77 run's Marp deck: every slide's height in headless Chromium.

The test suite checks a synthesised 77-class run (tests/report/test_marp.py, seconds); this
runs the real thing the issue measured, in about half a minute: BANKING77's 10,003 training
and 3,080 test messages as one spec (a temporary CSV with a split column, never kept), an
offline `distilleval run` (reference labels, the tfidf_logreg baseline trained and measured,
teacher and student projected), its deck rendered with Marp's own CLI and measured slide by
slide in headless Chromium. Prints one line per slide and exits 1 when any slide runs off its
1280×720 page or any image does not load offline.

Data: ../shared/data/banking77 (CC-BY-4.0; PolyAI-LDN/task-specific-datasets), found via
DISTILLEVAL_SHARED_DATA, then <repo>/../shared/data, then /work/shared/data.
Needs chromium and marp-cli (`.ci/run` installs both; MARP_CLI names another marp).

Run: python bench/bench_slides.py
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SPEC = """name: banking77
description: BANKING77 intents (77 classes), for the slide benchmark.
data:
  path: data.csv
  input: {{text: text}}
  gold: label
  id: id
  split: {{column: split}}
output:
  kind: label
  labels: {labels}
scorer: exact_match
teacher:
  model: openai/gpt-5.2
  system: rubric.md
  prompt: "Message: {{text}}\\nIntent:"
  max_tokens: 16
student:
  model: tinker://banking77-qwen3-8b/sampler_weights/final
  prompt: "{{text}}"
  max_tokens: 16
baselines: [tfidf_logreg]
traffic:
  volumes_per_day: [1000, 100000, 1000000]
gates:
  student_min: 0.85
  non_inferiority_margin: 0.03
training:
  base_model: Qwen/Qwen3-8B
  rank: 32
pricing: {pricing}
"""


def shared_data_dir() -> Path | None:
    """The shared data folder holding banking77/, or None when it is not on this machine."""
    for candidate in (os.environ.get("DISTILLEVAL_SHARED_DATA"), REPO.parent / "shared" / "data", "/work/shared/data"):
        if candidate and (Path(candidate) / "banking77" / "train.csv").is_file():
            return Path(candidate)
    return None


def write_spec(data: Path, folder: Path) -> Path:
    """BANKING77 as one spec in ``folder``: a CSV with a split column, a one-line rubric, the spec."""
    with (folder / "data.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, ["id", "text", "label", "split"])
        writer.writeheader()
        for split in ("train", "test"):
            with (data / "banking77" / f"{split}.csv").open(newline="", encoding="utf-8") as source:
                for n, row in enumerate(csv.DictReader(source)):
                    writer.writerow({"id": f"{split}-{n}", "text": row["text"], "label": row["category"], "split": split})
    labels = json.loads((data / "banking77" / "categories.json").read_text())
    (folder / "rubric.md").write_text("Classify the banking customer message into one of: " + ", ".join(labels) + ".\n")
    spec = folder / "spec.yaml"
    spec.write_text(SPEC.format(labels=json.dumps(labels), pricing=REPO / "pricing" / "2026-02.yaml"))
    return spec


def main() -> int:
    from distilleval.report.render import render_run
    from tests.report.browser_tools import find_marp, marp_to_html
    from tests.report.headless import find_chromium, open_page
    from tests.report.test_marp import PROBE

    data, marp, chromium = shared_data_dir(), find_marp(), find_chromium()
    if data is None or marp is None or chromium is None:
        print("needs ../shared/data/banking77, marp-cli and chromium (.ci/run installs the tools)")
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-slides-") as tmp:
        folder = Path(tmp)
        spec = write_spec(data, folder)
        subprocess.run([sys.executable, "-m", "distilleval", "run", str(spec), "--offline", "--runs-dir", str(folder / "runs")],
                       check=True, stdout=subprocess.DEVNULL, cwd=folder)
        run = next((folder / "runs").glob("banking77-offline-*"))
        (folder / "deck.md").write_text(render_run(run, "marp"), encoding="utf-8")
        (page,) = marp_to_html(marp, [folder / "deck.md"])
        result = open_page(chromium, page, probe=PROBE, width=1280, settle_s=0.3)
    probe = json.loads(result.probe)
    bad = 0
    for slide in probe["slides"]:
        fits = slide["height"] <= 720 and slide["width"] <= 1280 and not slide["clipped"]
        bad += not fits
        print(f"{slide['n']:>3} {slide['height']:>5} px {'fits' if fits else 'OVERFLOWS'}  {slide['title']}")
    broken = [image["src"][:80] for image in probe["images"] if not image["loaded"]]
    print(f"{len(probe['slides'])} slides, {bad} overflowing; {len(broken)} images not loaded offline; "
          f"{len(result.requests)} network requests")
    return 1 if bad or broken or result.requests else 0


if __name__ == "__main__":
    sys.exit(main())
