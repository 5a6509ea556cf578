"""Tokencast test suite; `tests.harness` starts the real services on loopback."""
