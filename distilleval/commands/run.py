"""`distilleval run`: placeholder until its issue lands (replace this whole module)."""

HELP = "label, validate, train, eval and report in one command"


def add_arguments(parser):
    parser.add_argument("args", nargs="*")


def run(args):
    from distilleval.errors import DistillevalError

    raise DistillevalError("`distilleval run` is not built yet")
