"""`distilleval report`: placeholder until its issue lands (replace this whole module)."""

HELP = "Render a run as markdown, html, csv, json, marp slides or latex"


def add_arguments(parser):
    parser.add_argument("args", nargs="*")


def run(args):
    from distilleval.errors import DistillevalError

    raise DistillevalError("`distilleval report` is not built yet")
