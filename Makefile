# The two commands of the README: `make demo` and `make test`. Both start from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Worker processes of the first two test passes (pytest-xdist); 0 runs them in pytest's own process.
TEST_PROCESSES ?= 2

.PHONY: demo test serve messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -r requirements-dev.txt
	touch $@ $(VENV)/.runtime-installed

## demo: install, migrate, make the demo pools, survey and login, then serve on $(HOST):$(PORT)
demo: $(VENV)/.runtime-installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo --host $(HOST) --port $(PORT)
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

## test: install what the tests need and run the whole suite
test: $(VENV)/.dev-installed
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python -m pytest -m "not postgres" -n $(TEST_PROCESSES) $(PYTEST_ARGS)
	$(BIN)/python tests/postgres_pass.py -n $(TEST_PROCESSES) $(PYTEST_ARGS)
	$(BIN)/python tests/faults_pass.py $(PYTEST_ARGS)

## serve: serve without touching the demo data
serve: $(VENV)/.runtime-installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

## messages: refresh and compile the Japanese translations (needs gettext)
messages: $(VENV)/.runtime-installed
	$(BIN)/python manage.py makemessages --locale ja --ignore '.venv/*' --ignore 'tests/*'
	$(BIN)/python manage.py compilemessages --locale ja --ignore '.venv/*'

clean:
	rm -rf $(VENV) .pytest_cache
