# Two commands for a new user: `make run` and `make test`. Everything lives in .venv.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
OUT ?= out

.PHONY: run test bench clean data

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# What the main job needs and nothing more: atlaskb and its dependencies (numpy backend;
# no torch, no test tools, no browser).
$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $(RUN_STAMP)

# Everything for the tests: the `test`, `torch` and `distributed` (Ray) extras on top.
# torch==2.13.0 first: the CPU build on this machine's disk; an open range alone would
# pull a multi-GB CUDA build. The extra itself keeps an open range for users.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0 || $(BIN)/pip install -q torch
	$(BIN)/pip install -q -e '.[test,torch,distributed]'
	touch $(STAMP)

# The main job on the bundled data: lint the vault, measure every reference defense (quick
# mode, numpy backend, two worker processes; a rerun reuses finished cells) and build the
# site with that evidence.
run: $(RUN_STAMP)
	$(BIN)/atlaskb lint --format text || true
	$(BIN)/atlaskb defend sweep --quick --backend numpy --workers 2 --out $(OUT)/sweep
	$(BIN)/atlaskb site build --out site --evidence $(OUT)/sweep

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) site $(OUT) build dist

# Regenerate the bundled vault from MITRE's release: facts only, plus our own summaries.
ATLAS_YAML ?= ../shared/atlas-data/ATLAS-5.6.0.yaml
data: $(STAMP)
	$(BIN)/atlaskb import atlas-yaml $(ATLAS_YAML) --out data/atlas --facts-only --summaries data/summaries
