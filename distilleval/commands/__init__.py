"""One module per CLI verb, plus ``argument_types`` (the argparse converters they share).

Each verb module defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.
A command parses, calls the library and prints; the library never imports a command.
Modules import nothing heavy at top level: ``distilleval --help`` imports all of them.
"""
