# The two commands of the README are `make run` and `make test`; each sets up
# everything it needs on a fresh machine (virtual environment, downloads).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

# `make test` runs its own services on other ports, beside any `make stack`.
TEST_ENV := STACK_DIR=$(CURDIR)/.stack/test \
	STACK_OPENSEARCH_PORT=19200 STACK_OPENSEARCH_TRANSPORT_PORT=19300 \
	STACK_ELASTICMQ_PORT=19324 STACK_OPENSEARCH_HEAP=768m
PYTEST_ARGS ?=

.PHONY: run test stack stack-down bench lint format venv geodata clean

venv: $(INSTALLED)

$(INSTALLED): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

geodata:
	$(PYTHON) stack/geodata.py city test

run: venv geodata
	$(BIN)/python stack/run.py

test: venv
	$(PYTHON) stack/geodata.py test
	$(TEST_ENV) $(PYTHON) stack/stack.py up
	$(TEST_ENV) $(BIN)/pytest $(PYTEST_ARGS); status=$$?; \
	$(TEST_ENV) $(PYTHON) stack/stack.py down; exit $$status

stack:
	$(PYTHON) stack/stack.py up

stack-down:
	$(PYTHON) stack/stack.py down

lint: venv
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	$(PYTHON) stack/stack.py down
	$(TEST_ENV) $(PYTHON) stack/stack.py down
	rm -rf $(VENV) .stack
