"""The stages put together: evaluate a spec, run the offline pipeline, write its reports.

- ``plan``: where a ``distilleval run`` goes, its fingerprint, and which keys are missing.
- ``evaluate``: call the spec's models over the eval split, score, write the run directory.
- ``baseline_runs``: train the spec's local baselines and predict the eval items.
- ``offline``: the offline run (reference labels, real baselines, projected teacher/student).
- ``reports``: render a run's reports beside its summary.
- ``stages``: the library API, one function per stage returning a frozen result (``import distilleval``).

Commands (``distilleval.commands``) call these; nothing here imports a command.
"""
