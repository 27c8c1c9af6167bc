"""Command-line interface: ``main`` parses arguments and dispatches to ``distilleval.commands``."""
