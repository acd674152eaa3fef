# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: demo test lint install serve clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Sets everything up on embedded defaults (SQLite, eager Celery, the SMS outbox), loads the
# synthetic demo data, prints the demo logins and serves http://$(HOST):$(PORT).
demo: $(STAMP)
	DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DEBUG=1 $(BIN)/python manage.py demo --url http://$(HOST):$(PORT)/
	DEBUG=1 $(BIN)/python manage.py runserver $(HOST):$(PORT)

serve: $(STAMP)
	DEBUG=1 $(BIN)/python manage.py runserver $(HOST):$(PORT)

# Sets up and runs every test. With DATABASE_URL / CELERY_BROKER_URL pointing at real
# PostgreSQL / Redis the service tests run too; without them they skip with a reason.
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .mypy_cache .ruff_cache
