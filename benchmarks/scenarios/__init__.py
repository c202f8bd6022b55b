"""One module per scenario: each has run(...) -> harness.Report."""
