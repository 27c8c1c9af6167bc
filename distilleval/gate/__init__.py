"""Stage 8, the CI gate: a run against its spec's thresholds and against a baseline run.

- ``checks``: one ``Check`` per configured gate (``run_checks``).
- ``paired``: paired comparisons (McNemar exact, paired bootstrap, non-inferiority).
- ``ci_output``: printed lines, JUnit XML, GitHub step summary and annotations.
"""
