"""Tinker plumbing shared by sampling (``sampling``) and training (``distilleval.training``).

- ``connection``: API key check, SDK import, client creation under a deadline, error translation.
- ``catalogue``: which base models the service lists (live, or the dated offline copy).
- ``rendering``: chat templates that turn conversations into the tokens a model was trained on.
- ``tokenizers``: the tokenizers those templates use (shipped with the ``tinker`` extra).
- ``sampling``: the Tinker sampling backend.

Nothing here imports ``tinker`` at module level.
"""
