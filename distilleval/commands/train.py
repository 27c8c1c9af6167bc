"""`distilleval train`: placeholder until its issue lands (replace this whole module)."""

HELP = "LoRA fine-tune the student on Tinker from labelled data"


def add_arguments(parser):
    parser.add_argument("args", nargs="*")


def run(args):
    from distilleval.errors import DistillevalError

    raise DistillevalError("`distilleval train` is not built yet")
