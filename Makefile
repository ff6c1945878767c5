# The README's two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORTAL_BIND ?= 127.0.0.1:8000
export PORTAL_BIND

.PHONY: run test check-python bench clean

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
	  { echo "Coffer needs Python 3.11 or newer (found: $$($(PYTHON) --version))."; exit 1; }

$(BIN)/python: | check-python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime-installed

run: $(VENV)/.runtime-installed
	$(BIN)/python -m portal.embedded
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py storage_init
	$(BIN)/python manage.py ensure_admin
	@echo "Coffer is starting at http://$(PORTAL_BIND)/  (admin: http://$(PORTAL_BIND)/admin/, stop with Ctrl+C)"
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile

test: $(VENV)/.dev-installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.dev-installed
	$(BIN)/python bench/transfer.py $(BENCH_ARGS)
	$(BIN)/python bench/listing.py $(BENCH_ARGS)
	$(BIN)/python bench/zip_rss.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var
