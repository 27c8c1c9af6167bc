"""`distilleval gate`: placeholder until its issue lands (replace this whole module)."""

HELP = "Check a run against the spec's gates (and a baseline run) for CI"


def add_arguments(parser):
    parser.add_argument("args", nargs="*")


def run(args):
    from distilleval.errors import DistillevalError

    raise DistillevalError("`distilleval gate` is not built yet")
