"""`distilleval score`: placeholder until its issue lands (replace this whole module)."""

HELP = "Score prediction files against the spec's gold without calling any model"


def add_arguments(parser):
    parser.add_argument("args", nargs="*")


def run(args):
    from distilleval.errors import DistillevalError

    raise DistillevalError("`distilleval score` is not built yet")
