"""The Marp deck, rendered by Marp's own CLI and measured in headless Chromium: every slide fits
its 1280×720 page and nothing is fetched (Marp would fetch emoji as images from a CDN).

One deck holds the slides of three runs (so Chromium loads one page for them): a 77-class run
(BANKING77's size: per-class results, confusions and one-time cost are the slides that ran off
the page) with model names as long as a Tinker sampler path, the committed ticket-routing
example with its learning curve, and the test fixture;
then two slides made to fail, which prove the measurement sees an overflow and an emoji image.
A second page holds the one-slide decks of ``distilleval cost`` (across the example use cases,
and for one spec), which have a front matter of their own.
"""

from __future__ import annotations

import contextlib
import io
import json
import re

import pytest

from distilleval.report.marp import FRONT_MATTER, SLIDE_MARK
from distilleval.report.render import render_run
from tests.report.browser_tools import REPO_ROOT, marp_to_html, require_chromium, require_marp
from tests.report.headless import open_pages
from tests.report.many_classes import LONG_NAMES, write_77_class_run
from tests.ticket_routing_fixture import SUMMARY_PATH

PROBE = """JSON.stringify({
  slides: Array.from(document.querySelectorAll('svg[data-marpit-svg] > foreignObject > section')).map((s, i) => ({
    n: i + 1,
    title: (s.querySelector('h1') || {textContent: ''}).textContent,
    height: s.scrollHeight, width: s.scrollWidth, pageHeight: s.clientHeight, pageWidth: s.clientWidth,
    clipped: Array.from(s.querySelectorAll('table, pre')).filter(e => e.scrollWidth > e.clientWidth + 1).length
  })),
  images: Array.from(document.images).map(i => ({src: i.src, loaded: i.complete && i.naturalWidth > 0}))
})"""


def deck_body(deck: str) -> str:
    assert deck.startswith(FRONT_MATTER + "\n\n")
    return deck[len(FRONT_MATTER) + 2:].rstrip("\n")


BAD_SLIDES = ("# PROBE overflow\n\n" + "\n\n".join(f"line {n}" for n in range(40)),
              "# PROBE emoji\n\n✅ an emoji Marp turns into an online image")


def chart_slides(run: str) -> list[str]:
    """The 77-class run's tallest chart (per-class F1, 40 rows) and its cost chart as chart slides."""
    from distilleval.report import compute_figures, load_run
    from distilleval.report.charts import cost_chart, per_class_chart
    from distilleval.report.slides import chart_slide

    figures = compute_figures(load_run(run))
    slides = chart_slide("Per-class F1 (chart slide)", per_class_chart(figures), notes=["F1 per class; tick: recall."])
    slides += chart_slide("First-month cost (chart slide)", cost_chart(figures))
    return [slide.markdown() for slide in slides]


def cost_decks() -> str:
    """The one-slide decks of ``distilleval cost``: across the example use cases (as
    reports/regenerate.sh writes reports/all_use_cases/cost.marp.md) and for one spec."""
    from distilleval.cli.main import main
    from distilleval.costs.tables import MARP_FRONT_MATTER

    bodies = []
    for args in ([*map(str, sorted((REPO_ROOT / "reports").glob("*/summary.json"))), "--volumes", "100000"],
                 [str(REPO_ROOT / "specs" / "ticket_routing" / "spec.yaml")]):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["cost", *args, "--format", "marp"]) == 0
        assert out.getvalue().startswith(MARP_FRONT_MATTER)
        bodies.append(out.getvalue()[len(MARP_FRONT_MATTER):].strip())
    return MARP_FRONT_MATTER + "\n" + "\n\n---\n\n".join(bodies) + "\n"


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    marp, chromium = require_marp(), require_chromium()
    folder = tmp_path_factory.mktemp("marp")
    run77 = write_77_class_run(folder, display_names=LONG_NAMES)
    decks = {"77 classes": render_run(run77, "marp"),
             "ticket_routing example": render_run(REPO_ROOT / "reports" / "ticket_routing", "marp"),
             "fixture": render_run(SUMMARY_PATH, "marp")}
    body = "\n\n---\n\n".join([*(deck_body(d) for d in decks.values()), *chart_slides(run77), *BAD_SLIDES])
    (folder / "deck.md").write_text(FRONT_MATTER + "\n\n" + body + "\n", encoding="utf-8")
    (folder / "cost.md").write_text(cost_decks(), encoding="utf-8")
    report_page, cost_page = marp_to_html(marp, [folder / "deck.md", folder / "cost.md"])
    run, cost = open_pages(chromium, [report_page, cost_page], probe=PROBE, width=1280, settle_s=0.3, screenshot=False)
    return decks, run, json.loads(run.probe), cost


def fits(slide: dict) -> bool:
    return slide["height"] <= 720 and slide["width"] <= 1280 and not slide["clipped"]


def test_every_slide_fits_its_page(measured):
    decks, _, probe, _ = measured
    slides = probe["slides"]
    assert len(slides) == sum(deck_body(d).count("\n\n---\n\n") + 1 for d in decks.values()) + 2 + len(BAD_SLIDES)
    ours, bad = slides[:-2], slides[-2:]
    assert all(s["pageWidth"] == 1280 and s["pageHeight"] == 720 for s in slides)
    over = [(s["n"], s["title"], s["height"], s["width"], s["clipped"]) for s in ours if not fits(s)]
    assert over == [], over
    # The measurement sees an overflowing slide (so a pass above means something).
    assert bad[0]["title"] == "PROBE overflow" and bad[0]["height"] > 720


def test_the_cost_decks_fit_their_page(measured):
    cost = measured[3]
    slides = json.loads(cost.probe)["slides"]
    assert [s["title"] for s in slides] == ["Cost across use cases", "Cost at scale"]
    assert all(fits(s) for s in slides), slides
    assert cost.requests == [] and cost.errors == []


def test_long_tables_are_cut_to_the_worst_rows_and_say_so(measured):
    decks, _, probe, _ = measured
    deck = decks["77 classes"]
    titles = [s["title"] for s in probe["slides"]][:deck_body(deck).count("\n\n---\n\n") + 1]  # its own slides
    per_class = next(t for t in titles if t.startswith("Per-class results: Student"))
    assert titles.count(per_class) == 1  # one slide, cut, not 77 rows over many
    shown = int(re.search(r"The (\d+) worst of 77 classes", deck).group(1))
    assert 10 <= shown < 77
    # The rows shown are the worst by F1, in order.
    slide = deck.split("# Per-class results", 1)[1].split("\n---\n", 1)[0]
    f1 = [float(line.split("|")[6]) for line in slide.splitlines() if line.startswith("| ") and line[2:3] != "C"]
    assert len(f1) == shown and f1 == sorted(f1)


def test_no_image_and_no_request_offline(measured):
    decks, run, probe, _ = measured
    charts = [i for i in probe["images"] if i["src"].startswith("data:image/svg+xml;base64,")]
    # The 77-class run's per-class and cost charts, and every deck's Pareto front (three decks): all drawn offline.
    assert len(charts) == 2 + 3 and all(i["loaded"] for i in charts)
    # Only the probe slide's emoji became an image fetched from a CDN (so the harness sees one):
    # our slides ask for nothing over the network.
    online = [i for i in probe["images"] if i not in charts]
    assert len(online) == 1 and online[0]["src"].startswith("https://")
    assert {url for url in run.requests if not url.startswith("data:")} == {online[0]["src"]}
    for deck in decks.values():
        assert not any(mark in deck for mark in "✅❌❔📐")
    assert any(SLIDE_MARK["pass"] in d or SLIDE_MARK["unknown"] in d for d in decks.values())


def test_ci_installs_the_pinned_marp_cli():
    from tests.report.browser_tools import MARP_CLI_VERSION

    assert f"\nMARP_CLI_VERSION={MARP_CLI_VERSION}\n" in (REPO_ROOT / ".ci" / "run").read_text()
