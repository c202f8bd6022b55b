"""subkube's benchmark harness: `python -m benchmarks run SCENARIO` (not a test suite).

Each scenario starts a private local host, measures, prints its figures and appends them
to docs/performance.md with the machine described and a matplotlib chart beside them.
"""
