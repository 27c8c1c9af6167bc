"""Test doubles that ship with the package, for tests and benchmarks only.

- ``openai_server``: a scripted OpenAI-compatible server on 127.0.0.1 (real HTTP).
- ``fake_tinker``: a small double of the Tinker service built from the SDK's real types.

No production module imports this package (``tests/test_layout.py`` checks it).
"""
