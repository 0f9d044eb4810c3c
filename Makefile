# floodwall developer tasks. `make demo` and `make test` do all of their own set-up.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
# Debian packages the tests drive for real (binary -> package).
SYSTEM_TOOLS := nft:nftables nginx:nginx ip:iproute2 curl:curl redis-server:redis-server chromium:chromium fail2ban-regex:fail2ban

.PHONY: venv system-deps demo test lint bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

# Installs the Debian packages the tests need when they are missing (root + apt only).
system-deps:
	@missing=""; for pair in $(SYSTEM_TOOLS); do bin=$${pair%%:*}; pkg=$${pair##*:}; \
	  command -v $$bin >/dev/null 2>&1 || [ -x /usr/sbin/$$bin ] || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "WARNING: missing$$missing (not root or no apt-get): tests that need them will skip"; fi; \
	fi

demo: venv
	$(PY) examples/demo.py

test: venv system-deps
	$(PY) -m pytest -q

lint: venv
	$(VENV)/bin/ruff check src tests bench examples
	$(VENV)/bin/mypy src

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
