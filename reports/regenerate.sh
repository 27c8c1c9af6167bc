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
  distilleval run "$spec" --offline --runs-dir "$runs" >/dev/null 2>&1
  run_dir=$(ls -d "$runs/$case_name"-offline-* | head -1)
  mkdir -p "reports/$case_name"
  cp "$run_dir/report.md" "$run_dir/report.html" "$run_dir/summary.json" "reports/$case_name/"
  distilleval report "$run_dir" --format marp --out "reports/$case_name/slides.marp.md" >/dev/null 2>&1
  echo "reports/$case_name: $(grep -m1 '^## Verdict' "$run_dir/report.md")"
done
