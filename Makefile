# make demo: set up .venv and run the whole system for ~2 minutes on the embedded default (SQLite, a local fleet)
# make test: set up .venv, check the local Redis and MariaDB, then lint, type-check and run every test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint services bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ebbflow demo

services: $(STAMP)
	$(BIN)/python scripts/check_services.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint services
	$(BIN)/pytest -q -p no:cacheprovider

bench: $(STAMP) services
	$(BIN)/python bench/queue_throughput.py
	$(BIN)/python bench/priority_latency.py
	$(BIN)/python bench/dispatch_throughput.py
	$(BIN)/python bench/autoscaler_loop.py
	$(BIN)/python bench/fleet_sim.py
	$(BIN)/python bench/social_graph.py
	$(BIN)/python bench/stale_videos.py
	$(BIN)/python bench/dedupe.py
	$(BIN)/python bench/hot_topics_map.py
	$(BIN)/python bench/hot_topics_hour.py
	$(BIN)/python bench/hot_topics_ranking.py
	$(BIN)/python bench/related_crawl.py
	$(BIN)/python bench/faults.py

clean:
	rm -rf $(VENV) .ebbflow
