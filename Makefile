# The README's two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORTAL_BIND ?= 127.0.0.1:8000
export PORTAL_BIND

.PHONY: run install test check-python check-ldap-headers bench clean messages

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
	  { echo "Coffer needs Python 3.11 or newer (found: $$($(PYTHON) --version))."; exit 1; }

# python-ldap (LDAP sign-in and sync) has no wheel on PyPI: pip builds it against OpenLDAP's headers.
check-ldap-headers:
	@test -e /usr/include/ldap.h -a -e /usr/include/sasl/sasl.h || $(BIN)/python -c 'import ldap' 2>/dev/null || \
	  { echo "Coffer builds python-ldap: install OpenLDAP's headers first (apt-get install libldap2-dev libsasl2-dev gcc)."; exit 1; }

$(BIN)/python: | check-python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python check-ldap-headers
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python check-ldap-headers
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime-installed

# The browser portal's front-end packages (package.json, pinned by package-lock.json),
# copied into static/vendor/ so pages never load anything from a CDN; the co-editor
# (static/src/coedit/) bundled with its packages by esbuild into one minified script.
VENDOR := static/vendor
static/vendor/.built: package.json package-lock.json $(wildcard static/src/coedit/*.js)
	@command -v npm >/dev/null || { echo "Coffer's pages need Node.js and npm (apt-get install nodejs npm)."; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)/htmx $(VENDOR)/uppy/locales
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx/
	cp node_modules/uppy/dist/uppy.min.mjs node_modules/uppy/dist/uppy.min.css $(VENDOR)/uppy/
	cp node_modules/@uppy/locales/lib/zh_CN.js $(VENDOR)/uppy/locales/
	mkdir -p $(VENDOR)/pdfjs && cp node_modules/pdfjs-dist/build/pdf.min.mjs node_modules/pdfjs-dist/build/pdf.worker.min.mjs $(VENDOR)/pdfjs/
	node_modules/.bin/esbuild static/src/coedit/editor.js --bundle --minify --format=iife --target=es2020 \
	  --legal-comments=external --log-level=warning --outfile=$(VENDOR)/coedit/editor.js
	touch $@

# The desktop agent as the portal offers it at /agent/: a wheel of sync_agent (its compiled
# dependencies come from PyPI through the wheel's pinned requirements) and its SHA-256.
AGENT_DIST ?= $(or $(PORTAL_AGENT_DIST_DIR),var/agent)
$(AGENT_DIST)/manifest.json: pyproject.toml sync_agent/requirements.txt $(wildcard sync_agent/*.py) portal/backups/agent_dist.py | $(BIN)/python
	$(BIN)/python portal/backups/agent_dist.py $(AGENT_DIST)

# A production install (docs/deploy.md): the runtime requirements, the front-end files, the agent wheel.
install: $(VENV)/.runtime-installed static/vendor/.built $(AGENT_DIST)/manifest.json

run: $(VENV)/.runtime-installed static/vendor/.built $(AGENT_DIST)/manifest.json
	$(BIN)/python -m portal.embedded
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py storage_init
	$(BIN)/python manage.py ensure_admin
	@echo "Coffer is starting at http://$(PORTAL_BIND)/  (admin: http://$(PORTAL_BIND)/admin/, stop with Ctrl+C)"
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile

test: $(VENV)/.dev-installed static/vendor/.built $(AGENT_DIST)/manifest.json
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.dev-installed
	$(BIN)/python bench/transfer.py $(BENCH_ARGS)
	$(BIN)/python bench/listing.py $(BENCH_ARGS)
	$(BIN)/python bench/upload_depth.py $(BENCH_ARGS)
	$(BIN)/python bench/zip_rss.py $(BENCH_ARGS)
	$(BIN)/python bench/dav.py $(BENCH_ARGS)
	$(BIN)/python bench/share.py $(BENCH_ARGS)
	$(BIN)/python bench/audit.py $(BENCH_ARGS)
	$(BIN)/python bench/agent.py $(BENCH_ARGS)
	$(BIN)/python bench/backup_scope.py $(BENCH_ARGS)
	$(BIN)/python bench/search.py
	$(BIN)/python bench/ldap_sync.py $(BENCH_ARGS)
	$(BIN)/python bench/browser_upload.py $(BENCH_ARGS)
	$(BIN)/python bench/coedit.py $(BENCH_ARGS)
	$(BIN)/python bench/tiering.py $(BENCH_ARGS)
	$(BIN)/python bench/import.py $(BENCH_ARGS)
	$(BIN)/python bench/dlp.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var

# After changing translatable strings: refresh the catalogue, translate, then compile
# (the compiled .mo is committed, so `make run` needs no gettext).
messages: $(VENV)/.runtime-installed
	$(BIN)/python manage.py makemessages -l zh_Hans --ignore=.venv --ignore=node_modules --ignore=var --ignore=static/vendor
	$(BIN)/python manage.py compilemessages -l zh_Hans --ignore=.venv --ignore=node_modules
