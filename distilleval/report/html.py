"""One self-contained HTML report: verdict, inline SVG charts, tables, and a disagreement browser.

No network: no external scripts, styles, fonts or images, and a Content-Security-Policy that
forbids loading anything. Model outputs and inputs are untrusted and always escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from distilleval.report.charts import accuracy_chart, cost_chart, latency_chart, per_class_chart
from distilleval.report.figures import Figures
from distilleval.report.tables import Table
from distilleval.report.verdict import Verdict
from distilleval.results.item_results import iter_items
from distilleval.results.summary_json import ItemResult

MAX_ITEMS_PER_SIDE = 500
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src 'none'; base-uri 'none'; form-action 'none'"

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #111827; background: #f9fafb; }
main { max-width: 1000px; margin: 0 auto; padding: 24px; }
h1 { font-size: 26px; margin-bottom: 4px; } h2 { font-size: 20px; margin-top: 32px; }
.meta { color: #4b5563; font-size: 14px; }
.verdict { border-radius: 8px; padding: 12px 18px; border: 2px solid; background: #fff; }
.verdict.fine-tune { border-color: #16a34a; } .verdict.dont { border-color: #dc2626; } .verdict.unknown { border-color: #ca8a04; }
.verdict li { margin: 4px 0; } .verdict .lead { font-weight: 600; } .verdict .vnote { font-size: 14px; color: #374151; } .pass { color: #15803d; } .fail { color: #b91c1c; } .unknown { color: #a16207; } .projected { color: #4b5563; }
table { border-collapse: collapse; background: #fff; margin: 8px 0; font-size: 14px; }
th, td { border: 1px solid #e5e7eb; padding: 5px 9px; text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f3f4f6; } .note { color: #4b5563; font-size: 12px; font-style: italic; margin: 2px 0; }
.charts svg { display: block; margin: 12px 0; max-width: 100%; height: auto; border: 1px solid #e5e7eb; border-radius: 6px; }
details.item { background: #fff; border: 1px solid #e5e7eb; border-radius: 6px; margin: 6px 0; padding: 6px 10px; }
details.item summary { cursor: pointer; font-size: 14px; }
pre { white-space: pre-wrap; word-break: break-word; background: #f3f4f6; padding: 8px; border-radius: 4px; font-size: 13px; margin: 4px 0; }
.tag { font-size: 12px; padding: 1px 6px; border-radius: 4px; background: #e5e7eb; margin-right: 4px; }
input[type=search] { padding: 6px 10px; width: 320px; font-size: 14px; }
"""

SCRIPT = """
(function () {
  var box = document.getElementById('item-filter');
  var count = document.getElementById('item-count');
  function apply() {
    var needle = box.value.toLowerCase();
    var shown = 0;
    document.querySelectorAll('details.item').forEach(function (el) {
      var hit = !needle || el.textContent.toLowerCase().indexOf(needle) !== -1;
      el.hidden = !hit;
      if (hit) { shown += 1; }
    });
    count.textContent = shown + ' shown';
  }
  box.addEventListener('input', apply);
  apply();
})();
"""


@dataclass(frozen=True)
class Disagreements:
    """Items where exactly one of teacher and student is right: how many, and the first ``keep`` of each side."""

    teacher_only: list[ItemResult]
    student_only: list[ItemResult]
    teacher_only_count: int = 0
    student_only_count: int = 0


def find_disagreements(f: Figures, *, keep: int = MAX_ITEMS_PER_SIDE) -> Disagreements:
    """Split items into teacher-right/student-wrong and student-right/teacher-wrong (score 1 vs < 1),
    streaming the items: every disagreement is counted, the first ``keep`` of each side kept."""
    if f.teacher is None or f.student is None:
        return Disagreements([], [])
    t_key, s_key = f.teacher.key, f.student.key
    teacher_only: list[ItemResult] = []
    student_only: list[ItemResult] = []
    counts = [0, 0]
    for item in iter_items(f.summary):
        t, s = item.scores.get(t_key), item.scores.get(s_key)
        if t is None or s is None:
            continue
        side = 0 if t >= 1.0 and s < 1.0 else 1 if s >= 1.0 and t < 1.0 else None
        if side is None:
            continue
        counts[side] += 1
        kept = teacher_only if side == 0 else student_only
        if len(kept) < keep:
            kept.append(item)
    return Disagreements(teacher_only, student_only, counts[0], counts[1])


def _table_html(table: Table) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in table.columns)
    rows = []
    for row in table.rows:
        cells = []
        for index, cell in enumerate(row):
            numeric = index > 0 and isinstance(cell.value, (int, float)) and not isinstance(cell.value, bool)
            cells.append(f'<td class="num">{escape(cell.text)}</td>' if numeric else f"<td>{escape(cell.text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in table.notes)
    return (f'<section class="table" id="table-{escape(table.key)}"><h2>{escape(table.title)}</h2>'
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{notes}</section>")


def _output_block(label: str, item: ItemResult, key: str) -> str:
    output = item.outputs.get(key)
    error = item.errors.get(key)
    score = item.scores.get(key)
    shown = "(no output: " + (error or "call failed") + ")" if output is None else output
    score_text = "—" if score is None else f"{score:g}"
    return f"<p><b>{escape(label)}</b> <span class=\"tag\">score {escape(score_text)}</span></p><pre>{escape(shown)}</pre>"


def _item_html(item: ItemResult, f: Figures) -> str:
    t_key, s_key = f.teacher.key, f.student.key  # type: ignore[union-attr]

    def short(text: str | None) -> str:
        text = "∅" if text is None else " ".join(text.split())
        return text if len(text) <= 40 else text[:39] + "…"

    summary = (f"<span class=\"tag\">{escape(item.id)}</span> gold <b>{escape(short(item.gold))}</b> · "
               f"teacher {escape(short(item.outputs.get(t_key)))} · student {escape(short(item.outputs.get(s_key)))}")
    return (f'<details class="item"><summary>{summary}</summary>'
            f"<p><b>Input</b></p><pre>{escape(item.input_preview)}</pre>"
            f"<p><b>Gold</b></p><pre>{escape(item.gold if item.gold is not None else '(none)')}</pre>"
            + _output_block("Teacher output", item, t_key) + _output_block("Student output", item, s_key) + "</details>")


def _browser_html(f: Figures) -> str:
    found = find_disagreements(f)
    parts = ['<section id="disagreements"><h2>Disagreements: where only one of teacher and student is right</h2>',
             '<p><input type="search" id="item-filter" placeholder="Filter by id, input or output" aria-label="Filter items"> '
             '<span id="item-count" class="meta"></span></p>']
    for key, heading, items, count in (
        ("teacher-only", "Teacher right, student wrong", found.teacher_only, found.teacher_only_count),
        ("student-only", "Student right, teacher wrong", found.student_only, found.student_only_count),
    ):
        extra = f" (first {MAX_ITEMS_PER_SIDE} shown)" if count > MAX_ITEMS_PER_SIDE else ""
        noun = "item" if count == 1 else "items"
        parts.append(f'<h3 id="{key}">{escape(heading)}: {count:,} {noun}{extra}</h3>')
        parts.extend(_item_html(item, f) for item in items[:MAX_ITEMS_PER_SIDE])
    parts.append("</section>")
    return "".join(parts)


def render_html(f: Figures, tables: list[Table], verdict: Verdict, *, extra_charts: Sequence[str] = ()) -> str:
    """The whole report as one HTML document with no external resources.

    ``extra_charts`` are inline SVGs appended to the charts (the learning curve, when the run has one).
    """
    s = f.summary
    css_class = {"fine-tune": "fine-tune", "don't fine-tune": "dont", "not enough evidence": "unknown"}[verdict.decision]
    reasons = "".join(
        f'<li><span class="{r.status}">{"✔" if r.status == "pass" else "✘" if r.status == "fail" else "≈" if r.status == "projected" else "?"}</span> '
        f"<b>{escape(r.rule)}</b>: {escape(r.text)}</li>" for r in verdict.reasons
    )
    lead = f'<p class="lead">{escape(verdict.lead)}</p>' if verdict.lead else ""
    # The recommendation first when there is one; else what the run measured, then why no arm qualifies.
    recommended = verdict.recommendation is not None and verdict.recommendation.arm is not None
    lead = _recommendation_html(verdict) + lead if recommended else lead + _recommendation_html(verdict)
    verdict_notes = "".join(f'<p class="vnote">{escape(n)}</p>' for n in verdict.notes)
    labels = "gold (reference) labels stood in for the teacher" if s.label_source == "reference" else "teacher labels"
    notes = "".join(f"<li>{escape(n)}</li>" for n in f.notes)
    browser = _browser_html(f) if f.teacher is not None and f.student is not None else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>distilleval report: {escape(s.spec_name)}</title>
<style>{STYLE}</style>
</head>
<body>
<main>
<h1>distilleval report: {escape(s.spec_name)}</h1>
<p class="meta">Run <code>{escape(s.run_id)}</code> · {escape(s.created_at)} · {s.n_items:,} eval items · mode {escape(s.mode)} · {labels}<br>
Pricing table: {escape(f.pricing_label)} · {_spec_html(f)}</p>
<section class="verdict {css_class}" id="verdict"><h2>Verdict: {escape(verdict.headline)}</h2>{lead}<ul>{reasons}</ul>{verdict_notes}</section>
<section class="charts" id="charts"><h2>Charts</h2>
{_pareto_svg(f, verdict)}
{cost_chart(f)}
{accuracy_chart(f)}
{latency_chart(f)}
{per_class_chart(f) if f.per_class is not None else ''}
{''.join(extra_charts)}
</section>
{''.join(_table_html(t) for t in tables)}
{browser}
{f'<section id="notes"><h2>Notes</h2><ul>{notes}</ul></section>' if notes else ''}
</main>
<script>{SCRIPT}</script>
</body>
</html>
"""


def _recommendation_html(verdict: Verdict) -> str:
    from distilleval.report.recommendation import rejection_lines

    rec = verdict.recommendation
    if rec is None or rec.table is None or not rec.table.arms:
        return ""
    rejected = "".join(f"<li>{escape(line)}</li>" for line in rejection_lines(rec))
    return (f'<p class="lead recommendation">{escape(rec.text)}</p>'
            + (f"<p>Cheaper arms rejected:</p><ul class='rejected'>{rejected}</ul>" if rejected else ""))


def _pareto_svg(f: Figures, verdict: Verdict) -> str:
    """The Pareto-front chart, when the verdict compared arms."""
    from distilleval.report.pareto import pareto_chart

    rec = verdict.recommendation
    if rec is None or rec.table is None or not rec.table.arms:
        return ""
    return pareto_chart(rec, f.summary.primary_metric)


def _spec_html(f: Figures) -> str:
    """The header's spec, with its code spans, naming a spec ``--spec`` gave instead of the run's."""
    used = f.spec_used
    text = f"spec <code>{escape(str(used['path']))}</code> (sha256 {escape(str(used['sha256'])[:8])})"
    if used["given"]:
        text += f", given with --spec instead of the run's own <code>{escape(str(used['run_spec_path']))}</code>"
    elif f.spec_from_run_folder:
        text += ", read from the run folder's <code>spec.resolved.yaml</code>"
    return text
