"""Stage 4, calling models: the runner, the response cache and the run store.

- ``runner``: concurrency, rate limits, retries with backoff, time limits, progress.
- ``cache``: the content-addressed response cache shared by runs (SQLite).
- ``store``: ``records.sqlite`` of one run, written as each call finishes (resume).

Model backends (``distilleval.backends``) sit below this package; pipelines sit above it.
"""
