PYTHON ?= python3.11
VENV := .venv

.PHONY: setup test test-unit lint image

setup:
	bash scripts/setup.sh

test:
	bash scripts/test.sh

test-unit:
	bash scripts/test.sh tests/unit

image:
	$(VENV)/bin/subkube image build

lint:
	$(VENV)/bin/ruff check .
