PYTHON ?= python3.11
VENV := .venv

.PHONY: setup test lint

setup:
	bash scripts/setup.sh

test:
	bash scripts/test.sh

lint:
	$(VENV)/bin/ruff check .
