"""The report of ``distilleval iterate``: accuracy per round with intervals, and what each round cost.

Renders ``iterate.json`` (written by ``pipeline.iterate``) as markdown: one row per round
(training rows, rows added, accuracy with its 95% Clopper-Pearson interval, the paired change
from the previous round with the interval of the test that decides it, cost), then the recall
of every class that was ever weak, round by round, and why the loop stopped. With a Tinker
student it adds what each round trained (checkpoint, rows, steps) and paid for training and sampling.
"""

from __future__ import annotations


def _interval(pair, signed: bool = False) -> str:
    if not pair or pair[0] is None:
        return "n/a"
    form = "{:+.3f}" if signed else "{:.3f}"
    return f"[{form.format(pair[0])}, {form.format(pair[1])}]"


def _recall(entry: dict | None) -> str:
    if not entry or entry.get("recall") is None:
        return "no eval items"
    return f"{entry['recall']:.2f} {_interval(entry.get('interval'))} ({entry['correct']}/{entry['support']})"


def render_markdown(document: dict) -> str:
    """The markdown report of an ``iterate.json`` document."""
    rounds = document["rounds"]
    tinker = document.get("student_path") == "tinker"
    who = (f"Student: **{document['student_stand_in']}**, a new LoRA trained each round on the round's rows and "
           "sampled on the eval items. " if tinker else
           f"Student stand-in: **{document['student_stand_in']}** (a local baseline, retrained each round). ")
    lines = [
        f"# {document['spec']}: iterate on failures ({document['run']})",
        "",
        who +
        f"Teacher: `{document['teacher']}`, priced from {document['pricing_table']}. "
        f"Every round is scored on the same {document['eval_items']} eval items ({document['scoring']}); "
        "no generated input within the near-duplicate threshold of an eval item is trained on.",
        "",
        "| round | training rows | added | accuracy [95% CI] | change vs previous [95% CI] | p | cost (USD) |",
        "|---:|---:|---:|---|---|---:|---:|",
    ]
    for record in rounds:
        result = record["result"]
        change = result.get("change")
        shift = f"{change['estimate']:+.3f} {_interval(change['interval'], signed=True)}" if change else "—"
        p_value = f"{change['p_value']:.3g}" if change and change.get("p_value") is not None else "—"
        lines.append(
            f"| {record['round']} | {record['training_rows']:,} | {record['added']:,} | "
            f"{result['accuracy']:.3f} {_interval(result['accuracy_interval'])} | {shift} | {p_value} | "
            f"{record['cost']['total_usd']:.4f} |"
        )
    lines += ["", f"Total cost: ${document['total_cost_usd']:.4f} (each round's answers at the table's price; "
              "answers replayed from the response cache on a resume are not paid again)."]
    changes = [r["result"]["change"]["method"] for r in rounds if r["result"].get("change")]
    if changes:
        lines.append(f"Change: paired on the same eval items, {changes[0]}.")
    if tinker:
        lines += ["", "## Training and sampling per round", "",
                  "| round | checkpoint | training rows | steps | training (USD) | sampling (USD) |", "|---:|---|---:|---:|---:|---:|"]
        for record in rounds:
            training = record.get("training")
            steps = training.get("steps", "—") if isinstance(training, dict) else (training or "paid by the run")
            lines.append(f"| {record['round']} | `{record.get('checkpoint')}` | {record['training_rows']:,} | {steps} | "
                         f"{record['cost'].get('training_usd', 0.0):.4f} | {record['cost'].get('sampling_usd', 0.0):.4f} |")
        lines.append("")
        lines.append("Weak classes: the previous round's checkpoint sampled on the training rows it was trained on "
                     "(in-sample; a LoRA is not refitted per fold), so a class can look stronger there than on new inputs. "
                     "Checkpoint storage is reported in each round's manifest, not counted here.")
    weak = sorted({w["label"] for r in rounds for w in r.get("weak_classes", [])})
    if weak:
        lines += ["", "## Recall of the weak classes (eval items, 95% Clopper-Pearson)", "",
                  "| class | " + " | ".join(f"round {r['round']}" for r in rounds) + " |",
                  "|---|" + "---|" * len(rounds)]
        for label in weak:
            cells = [_recall(r["result"]["recall"].get(label)) for r in rounds]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines += ["", "## What each round generated", "",
                  f"| round | weak classes (training recall, {'in-sample' if tinker else 'out of fold'}) | generated: kept / dropped | quarantined | added per label | estimated (USD) |",
                  "|---:|---|---|---:|---|---:|"]
        for record in rounds[1:]:
            classes = ", ".join(
                f"{w['label']} ({'none' if w['training_recall'] is None else format(w['training_recall'], '.2f')})"
                for w in record["weak_classes"])
            fates = ", ".join(f"{k} {v}" for k, v in record["generated"].items()) or "none"
            added = ", ".join(f"{k} {v}" for k, v in record["added_per_label"].items()) or "none"
            failed = sum(record.get("failed_calls", {}).values())
            if failed:
                fates += f"; {failed} failed call{'s' if failed != 1 else ''} (missing data: nothing of theirs was added)"
            lines.append(f"| {record['round']} | {classes} | {fates} | {record['quarantined']} | {added} | "
                         f"{record['estimate']['total_usd']:.4f} |")
    lines += ["", f"Near-duplicates dropped: {document['near_duplicates']}.",
              f"Stopped: {document['stopped']} (a round must add {document['min_gain']:.4f} accuracy).", ""]
    return "\n".join(lines)
