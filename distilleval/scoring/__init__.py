"""Scorers: one module per metric family, configured by ``distilleval.scoring.config``."""
