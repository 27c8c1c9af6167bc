"""Allow ``python -m distilleval``."""

from distilleval.cli.main import main

raise SystemExit(main())
