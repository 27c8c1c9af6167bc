"""The package's version, in a module of its own so that every layer may read it without importing
the package face (``distilleval/__init__.py`` names the library API)."""

__version__ = "0.1.0"
