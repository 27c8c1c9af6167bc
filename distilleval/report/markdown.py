"""Markdown report: header, verdict with reasons, then the slide tables with their basis notes."""

from __future__ import annotations

from distilleval.report.figures import Figures
from distilleval.report.tables import Table
from distilleval.report.verdict import Verdict

STATUS_MARK = {"pass": "✅", "fail": "❌", "unknown": "❔", "projected": "📐"}


def md_escape(text: str) -> str:
    """Make text safe inside a markdown table cell or line (pipes, newlines, HTML brackets)."""
    return (text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\r", " ").replace("\n", " "))


def table_markdown(table: Table) -> str:
    """One table as a GitHub-flavoured markdown pipe table, its notes in italics below."""
    numeric = [all(_looks_numeric(row[i].text) for row in table.rows) for i in range(len(table.columns))]
    lines = ["| " + " | ".join(md_escape(c) for c in table.columns) + " |",
             "|" + "|".join("---:" if numeric[i] and i > 0 else "---" for i in range(len(table.columns))) + "|"]
    for row in table.rows:
        lines.append("| " + " | ".join(md_escape(cell.text) for cell in row) + " |")
    for note in table.notes:
        lines.append("")
        lines.append(f"*{md_escape(note)}*")
    return "\n".join(lines)


def _looks_numeric(text: str) -> bool:
    return bool(text) and (text[0].isdigit() or text[0] in "$+-−∞—")


def header_lines(f: Figures) -> list[str]:
    """The run's identity: spec, run, items, pricing table."""
    s = f.summary
    labels = "gold (reference) labels stood in for the teacher" if s.label_source == "reference" else "teacher labels"
    return [
        f"Run `{md_escape(s.run_id)}` · {md_escape(s.created_at)} · {s.n_items:,} eval items · mode {s.mode} · {labels}",
        "",
        f"Pricing table: {md_escape(f.pricing_label)} · {md_escape(f.spec_line)}",
    ]


def recommendation_lines(verdict: Verdict) -> list[str]:
    """The recommendation across every arm, then why each cheaper arm was rejected (empty without one)."""
    from distilleval.report.recommendation import rejection_lines

    rec = verdict.recommendation
    if rec is None or rec.table is None or not rec.table.arms:
        return []
    lines = [f"**{md_escape(rec.text)}**", ""]
    rejected = rejection_lines(rec)
    if rejected:
        heading = ("Why no arm qualifies:" if rec.arm is None else "Cheaper arms rejected:" if rec.basis == "non-inferiority"
                   else "Other arms rejected:")
        lines += [heading, ""] + [f"* {md_escape(line)}" for line in rejected] + [""]
    return lines


def verdict_markdown(verdict: Verdict) -> str:
    """The verdict heading, the recommendation across every arm, and one bullet per reason.

    The recommendation comes first when there is one; when no arm can be recommended, the lead (what
    the run did measure) comes first and the reason no arm qualifies after it."""
    lines = [f"## Verdict: {verdict.headline}", ""]
    recommended = verdict.recommendation is not None and verdict.recommendation.arm is not None
    if recommended:
        lines += recommendation_lines(verdict)
    if verdict.lead:
        lines += [f"**{md_escape(verdict.lead)}**", ""]
    if not recommended:
        lines += recommendation_lines(verdict)
    for reason in verdict.reasons:
        lines.append(f"- {STATUS_MARK[reason.status]} **{reason.rule}**: {md_escape(reason.text)}")
    for note in verdict.notes:
        lines += ["", md_escape(note)]
    return "\n".join(lines)


def render_markdown(f: Figures, tables: list[Table], verdict: Verdict) -> str:
    """The whole markdown report."""
    parts = [f"# distilleval report: {md_escape(f.summary.spec_name)}", "", *header_lines(f), "", verdict_markdown(verdict)]
    for table in tables:
        parts += ["", f"## {md_escape(table.title)}", "", table_markdown(table)]
    if f.notes:
        parts += ["", "## Notes", ""] + [f"- {md_escape(n)}" for n in f.notes]
    return "\n".join(parts) + "\n"
