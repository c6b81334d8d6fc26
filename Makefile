# Two entry points for a fresh machine: `make demo` and `make test`. Both reuse .venv when present.
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup demo test lint clean
setup: $(VENV)/.hhmem-installed

$(VENV)/.hhmem-installed: pyproject.toml scripts/setup_env.sh
	bash scripts/setup_env.sh $(VENV)

demo: setup
	$(BIN)/hhmem demo

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check hybrid snn deploy_loihi tests

clean:
	rm -rf $(VENV) hhmem-store .pytest_cache
