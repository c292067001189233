# `make start`: the platform on the embedded default (SQLite, inline jobs, demo data).
# `make translations`: extract the marked strings, update every catalog's .po and compile its .mo.
# `make test`:  the whole suite (needs PostgreSQL and Redis on 127.0.0.1; .ci/run starts them).
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: start test install translations

$(BIN)/memberday: setup.cfg pyproject.toml examples/birthday_gift/setup.cfg
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' -e examples/birthday_gift
	touch $@

install: $(BIN)/memberday

start: install
	$(BIN)/memberday db upgrade
	$(BIN)/memberday demo
	$(BIN)/memberday run --host 127.0.0.1 --port 5000

test: install
	$(BIN)/pytest tests examples/birthday_gift/tests

translations: install
	$(BIN)/python -m core.catalogs
