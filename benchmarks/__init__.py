"""Performance benchmarks, run as scripts (see benchmarks/README.md); not part of the test suite."""
