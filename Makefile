PYTHON ?= python3.11
VENV := .venv

.PHONY: setup test test-unit lint

setup:
	bash scripts/setup.sh

test:
	bash scripts/test.sh

test-unit:
	bash scripts/test.sh tests/unit

lint:
	$(VENV)/bin/ruff check .
