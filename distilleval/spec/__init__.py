"""Stage 1, what goes in: the task spec, its data and its prompts.

- ``task_spec``: the spec's models and ``load_spec`` (unknown keys are errors).
- ``yaml_source`` and ``validation``: YAML with line numbers, and one-line
  ``FILE:LINE: field: expected …, found …`` messages.
- ``scorer_config``: the ``scorer:`` section (configuration only; metrics live in ``scoring``).
- ``data``: loading JSONL/CSV items and splitting them.
- ``prompts`` and ``messages``: prompt templates and the chat messages built from them.
- ``resolved``: the resolved spec a run folder keeps, written and read back.

Imports nothing from distilleval beyond ``errors`` and ``files``.
"""
