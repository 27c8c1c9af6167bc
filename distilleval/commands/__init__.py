"""One module per CLI verb.

Each module defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.
Modules import nothing heavy at top level: ``distilleval --help`` imports all of them.
"""
