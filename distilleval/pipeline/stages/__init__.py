"""The library API: one function per stage, each returning a typed, frozen result.

``import distilleval`` exposes these (``distilleval/__init__.py`` loads them lazily); the commands
parse their arguments, call one of them and render its result as text, or as JSON with
``result_json.to_json``.

- ``estimate``: what a spec's runs will cost before anything is spent (``EstimateResult``).
- ``label``: the teacher labels a pool into short-format training data (``LabelResult``).
- ``validate``: the teacher scored against gold, with a spot-check sample (``ValidateResult``).
- ``train``: a LoRA fine-tune on Tinker and its manifest (``TrainResult``).
- ``evaluate``: the spec's models over the eval split, a run directory (``EvalResult``).
- ``report.render_report``: a run rendered as markdown, html, csv, json, marp or latex (``ReportResult``).
- ``gate.check_gates``: a run checked against its spec's gates and a baseline run (``GateResult``).
- ``result_json``: a result as JSON (fields marked render-only left out).
- ``arguments``: what every stage takes (a spec or its path; a ``say`` callback for progress lines).
"""
