"""Stage 5, what a run found: summary.json, its statistics, and how it is built.

- ``summary_json``: the shape of ``summary.json`` (the contract every later stage reads),
  reading and writing it.
- ``statistics``: Wilson and bootstrap intervals, McNemar, non-inferiority, agreement.
- ``build``: ``build_summary`` turns model outputs and a scorer into a ``Summary``.
- ``projection``: results of models a run did not call (cost projected from token counts).

Scorers report their metric in ``summary_json``'s terms with ``statistics``' intervals, so
``scoring`` imports this package and never the reverse (``build_summary`` is handed a scorer).
"""
