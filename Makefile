# Parity: developer entry points.
PYTHON ?= python3
VENV   ?= .venv
STAMP  := $(VENV)/.installed

.PHONY: run test bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --upgrade pip
	$(VENV)/bin/python -m pip install -e ".[dev]"
	touch $@

run: $(STAMP)
	$(VENV)/bin/python -m app.serve --server.address 127.0.0.1 --server.port 8501 --server.headless true

lint: $(STAMP)
	$(VENV)/bin/python -m ruff check .

test: $(STAMP)
	$(VENV)/bin/python -m ruff check .
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/run.py
	$(VENV)/bin/python benchmarks/agents_bench.py
	$(VENV)/bin/python benchmarks/sweep_bench.py
	$(VENV)/bin/python benchmarks/collect.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build dist artifacts *.egg-info
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
