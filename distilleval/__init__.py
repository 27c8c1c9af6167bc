"""distilleval: should this task move from a big prompted model to a small fine-tuned one?

The package keeps its import light: nothing here imports LiteLLM, Tinker or scikit-learn.
"""

__version__ = "0.1.0"
