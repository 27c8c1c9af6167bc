"""`distilleval validate`: placeholder until its issue lands (replace this whole module)."""

HELP = "Check the teacher's labels against gold before training on them"


def add_arguments(parser):
    parser.add_argument("args", nargs="*")


def run(args):
    from distilleval.errors import DistillevalError

    raise DistillevalError("`distilleval validate` is not built yet")
