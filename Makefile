# The two commands of the README are `make run` and `make test`; each sets up
# everything it needs on a fresh machine (virtual environment, downloads).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

# `make test` runs its own services on other ports, beside any `make stack`;
# TEST_PORT_PREFIX=2 moves them to 29200/29300/29324, and so on.
TEST_PORT_PREFIX ?= 1
TEST_ENV := STACK_DIR=$(CURDIR)/.stack/test-$(TEST_PORT_PREFIX) \
	STACK_OPENSEARCH_PORT=$(TEST_PORT_PREFIX)9200 \
	STACK_OPENSEARCH_TRANSPORT_PORT=$(TEST_PORT_PREFIX)9300 \
	STACK_ELASTICMQ_PORT=$(TEST_PORT_PREFIX)9324 STACK_OPENSEARCH_HEAP=768m
PYTEST_ARGS ?=

.PHONY: run test browser-deps test-stack test-stack-down pytest stack stack-down bench lint format venv geodata clean

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

# Debian's Chromium and its driver for the browser tests (needs root for apt).
browser-deps:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		apt-get update && apt-get install -y chromium chromium-driver; \
	fi

test: venv browser-deps
	$(PYTHON) stack/geodata.py test
	$(TEST_ENV) $(PYTHON) stack/stack.py up || \
		{ $(TEST_ENV) $(PYTHON) stack/stack.py down; exit 1; }; \
	$(TEST_ENV) $(BIN)/pytest $(PYTEST_ARGS); status=$$?; \
	$(TEST_ENV) $(PYTHON) stack/stack.py down; exit $$status

# For development: the test services alone, to run pytest against repeatedly.
test-stack:
	$(TEST_ENV) $(PYTHON) stack/stack.py up

test-stack-down:
	$(TEST_ENV) $(PYTHON) stack/stack.py down

# pytest against an already running `make test-stack`.
pytest: venv
	$(TEST_ENV) $(BIN)/pytest $(PYTEST_ARGS)

stack:
	$(PYTHON) stack/stack.py up

stack-down:
	$(PYTHON) stack/stack.py down

# Benchmarks and fault drills against the dev stack (started if needed); the
# drills stop and restart its services. Figures go to bench/results.json.
bench: venv
	$(PYTHON) stack/geodata.py city
	$(PYTHON) stack/stack.py up
	$(BIN)/python bench/run.py

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
