"""Machine- and paper-friendly outputs of the same tables: CSV (tidy), JSON and LaTeX."""

from __future__ import annotations

import csv
import io
import json

from distilleval.report.figures import Figures
from distilleval.report.tables import Table
from distilleval.report.verdict import Verdict


def render_csv(f: Figures, tables: list[Table], verdict: Verdict) -> str:
    """One tidy CSV: ``table,row,column,text,value`` per cell, plus the verdict rows."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["table", "row", "column", "text", "value"])
    writer.writerow(["verdict", "decision", "decision", verdict.decision, verdict.decision])
    if verdict.recommendation is not None:
        rec = verdict.recommendation
        writer.writerow(["verdict", "recommendation", rec.basis, rec.text, rec.arm.name if rec.arm else ""])
    if verdict.lead:
        writer.writerow(["verdict", "lead", "lead", verdict.lead, ""])
    for reason in verdict.reasons:
        writer.writerow(["verdict", reason.rule, reason.status, reason.text, reason.status])
    for note in verdict.notes:
        writer.writerow(["verdict", "note", "note", note, ""])
    for table in tables:
        for row in table.rows:
            for column, cell in zip(table.columns, row):
                writer.writerow([table.key, row[0].text, column, cell.text, "" if cell.value is None else cell.value])
    writer.writerow(["meta", "pricing", "pricing table", f.pricing_label, f.summary.pricing.sha256])
    writer.writerow(["meta", "spec", "spec", f.spec_line, f.spec_used["sha256"]])
    return out.getvalue()


def report_dict(f: Figures, tables: list[Table], verdict: Verdict) -> dict:
    """The report as a JSON-ready dict (tables with text and raw values, verdict, notes)."""
    s = f.summary
    return {
        "spec_name": s.spec_name,
        "run_id": s.run_id,
        "created_at": s.created_at,
        "n_items": s.n_items,
        "pricing": {"label": f.pricing_label, "path": s.pricing.path, "sha256": s.pricing.sha256},
        "spec": f.spec_used,
        "verdict": {"decision": verdict.decision, "headline": verdict.headline, "lead": verdict.lead,
                    "reasons": [{"rule": r.rule, "status": r.status, "text": r.text} for r in verdict.reasons],
                    "notes": verdict.notes},
        "tables": [
            {"key": t.key, "title": t.title, "columns": t.columns, "notes": t.notes,
             "rows": [[{"text": c.text, "value": c.value} for c in row] for row in t.rows]}
            for t in tables
        ],
        "cascades": [cascade.model_dump(mode="json") for cascade in s.cascades],
        "notes": f.notes,
        "decision": _decision(f, verdict),
    }


def _decision(f: Figures, verdict: Verdict) -> dict | None:
    from distilleval.report.recommendation import decision_block

    rec = verdict.recommendation
    return decision_block(rec, f) if rec is not None and rec.table is not None else None


def render_json(f: Figures, tables: list[Table], verdict: Verdict) -> str:
    """The report as indented JSON (infinities written as null)."""
    def clean(value):
        if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean(report_dict(f, tables, verdict)), indent=2, ensure_ascii=False) + "\n"


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "×": r"$\times$", "−": "--", "–": "--", "—": "---", "≥": r"$\geq$", "∞": r"$\infty$", "→": r"$\to$"}


def latex_escape(text: str) -> str:
    """Escape text for LaTeX (special characters and a few unicode symbols)."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def render_latex(f: Figures, tables: list[Table], verdict: Verdict) -> str:
    """One booktabs ``table`` environment per table (needs ``\\usepackage{booktabs}``)."""
    parts = [f"% distilleval report: {latex_escape(f.summary.spec_name)}, run {latex_escape(f.summary.run_id)}",
             f"% Verdict: {latex_escape(verdict.headline)}", f"% {latex_escape(f.spec_line)}"]
    parts += [f"% {latex_escape(line)}" for line in ([verdict.lead] if verdict.lead else []) + verdict.notes]
    parts += ["% Requires \\usepackage{booktabs}", ""]
    for table in tables:
        spec = "l" + "r" * (len(table.columns) - 1)
        lines = [r"\begin{table}[ht]", r"\centering", rf"\caption{{{latex_escape(table.title)}}}",
                 rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
                 " & ".join(latex_escape(c) for c in table.columns) + r" \\", r"\midrule"]
        for row in table.rows:
            lines.append(" & ".join(latex_escape(c.text) for c in row) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}"]
        for note in table.notes:
            lines.append(rf"\par\footnotesize{{{latex_escape(note)}}}")
        lines += [rf"\label{{tab:{table.key.replace('_', '-')}}}", r"\end{table}", ""]
        parts += lines
    return "\n".join(parts)
