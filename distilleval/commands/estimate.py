"""`distilleval estimate`: placeholder until its issue lands (replace this whole module)."""

HELP = "placeholder"


def add_arguments(parser):
    parser.add_argument("args", nargs="*")


def run(args):
    from distilleval.errors import DistillevalError

    raise DistillevalError("`distilleval estimate` is not built yet")
