"""`distilleval label`: placeholder until its issue lands (replace this whole module)."""

HELP = "Have the teacher label a pool of inputs into short-format training data"


def add_arguments(parser):
    parser.add_argument("args", nargs="*")


def run(args):
    from distilleval.errors import DistillevalError

    raise DistillevalError("`distilleval label` is not built yet")
