"""`distilleval compare`: placeholder until its issue lands (replace this whole module)."""

HELP = "Item-paired comparison of two runs of the same spec"


def add_arguments(parser):
    parser.add_argument("args", nargs="*")


def run(args):
    from distilleval.errors import DistillevalError

    raise DistillevalError("`distilleval compare` is not built yet")
