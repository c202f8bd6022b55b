#!/usr/bin/env bash
# Lint, then the whole suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# Two workers, each taking whole modules (their hosts are module fixtures): the e2e tests
# mostly wait on control planes, so two of them share two cores well. The slowest tests are
# listed at the end: the suite has a 30-minute budget.
exec .venv/bin/pytest -n 2 --dist loadfile --durations=30 "$@"
