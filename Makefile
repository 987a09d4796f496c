# Tandem: `make run` serves the embedded default with demo data; `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
# supervisord's pid file when `make run` runs.
RUN_DIR ?= var/run
# pytest's options; CI adds -n for parallel workers.
PYTEST_ARGS ?=

.PHONY: install run serve worker beat test lint format schema check clean screenshots

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

install: $(VENV)/.installed

## Run Tandem: migrate, seed the demo, then web + Celery worker + Celery beat together under
## supervisord (config/supervisord.conf): Ctrl-C or SIGTERM stops all three once each within
## seconds, and a program that dies is started again.
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py collectstatic --noinput -v0
	@mkdir -p $(RUN_DIR)
	@echo "Tandem on http://$(HOST):$(PORT)/ — sign in as agent / demo (Ctrl-C stops all three)"
	@exec env BIN="$(abspath $(BIN))" HOST="$(HOST)" PORT="$(PORT)" RUN_DIR="$(abspath $(RUN_DIR))" \
	$(BIN)/supervisord -c config/supervisord.conf

serve: install
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

worker: install
	$(BIN)/celery -A config worker --loglevel=INFO --without-gossip --without-mingle

beat: install
	$(BIN)/celery -A config beat --loglevel=INFO

## Run the tests (SQLite by default; PostgreSQL and Redis when DATABASE_URL / REDIS_URL are set).
test: install
	$(BIN)/ruff check .
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

## Retake the README's screenshots (docs/screenshots/): a fresh seeded SQLite demo, its own
## server on a free port, Debian's Chromium (tools/screenshots.py).
screenshots: install
	$(BIN)/python tools/screenshots.py

clean:
	rm -rf var staticfiles .pytest_cache
