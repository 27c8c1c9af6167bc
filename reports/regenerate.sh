#!/usr/bin/env bash
# Regenerate reports/<case>/ from an offline run of every example spec:
#   bash reports/regenerate.sh
# Offline: reference labels, local baselines trained and measured, API/Tinker costs projected.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=$(mktemp -d)
trap 'rm -rf "$runs"' EXIT
for spec in specs/*/spec.yaml; do
  case_name=$(basename "$(dirname "$spec")")
  if grep -q 'kind: judge' "$spec"; then
    # A judge-scored task has no offline scoring (no local baseline grades free text); its run needs a judge model.
    echo "reports/$case_name: skipped (judge-scored: run \`distilleval eval $spec\` with the judge's key)"
    continue
  fi
  distilleval run "$spec" --offline --runs-dir "$runs" >/dev/null 2>&1
  run_dir=$(ls -d "$runs/$case_name"-offline-* | head -1)
  mkdir -p "reports/$case_name"
  if grep -q '^baselines:' "$spec"; then
    # How much training data: the baselines' learning curve, added to the run's reports.
    distilleval curve "$spec" --run "$run_dir" >/dev/null 2>&1
    cp "$run_dir/learning_curve.json" "reports/$case_name/"
  fi
  cp "$run_dir/report.md" "$run_dir/report.html" "$run_dir/summary.json" "reports/$case_name/"
  # summary.json (schema 2) keeps aggregates; its per-item rows are in the SQLite file beside it.
  cp "$run_dir/summary.items.sqlite" "reports/$case_name/"
  distilleval report "$run_dir" --format marp --out "reports/$case_name/slides.marp.md" >/dev/null 2>&1
  echo "reports/$case_name: $(grep -m1 '^## Verdict' "$run_dir/report.md")"
done
# One table across the use cases (the deck's "Cost Summary" and "Monthly Cost at 100K req/day"),
# from the summaries just written, in every format.
mkdir -p reports/all_use_cases
for format in md:md marp:marp.md csv:csv json:json latex:tex; do
  distilleval cost reports/*/summary.json --volumes 100000 --format "${format%%:*}" > "reports/all_use_cases/cost.${format#*:}"
done
echo "reports/all_use_cases: cost across use cases ($(ls reports/all_use_cases | tr '\n' ' '))"
