"""`distilleval eval`: placeholder until its issue lands (replace this whole module)."""

HELP = "Run the spec's models over the eval split, score them, write a run directory"


def add_arguments(parser):
    parser.add_argument("args", nargs="*")


def run(args):
    from distilleval.errors import DistillevalError

    raise DistillevalError("`distilleval eval` is not built yet")
