"""Reports of a run: slide tables, a verdict, and renderers (markdown, marp, html, csv, json, latex).

Import is light: renderers load what they need when called.
"""

from distilleval.report.figures import Figures, compute_figures
from distilleval.report.sources import RunInputs, load_run
from distilleval.report.tables import Cell, Table, build_tables
from distilleval.report.verdict import Verdict, decide

__all__ = ["Cell", "Figures", "RunInputs", "Table", "Verdict", "build_tables", "compute_figures", "decide", "load_run"]
