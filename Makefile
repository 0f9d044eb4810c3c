# floodwall developer tasks. `make demo` and `make test` do all of their own set-up.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
# Debian packages the tests drive for real (binary -> package).
SYSTEM_TOOLS := nft:nftables nginx:nginx ip:iproute2 curl:curl redis-server:redis-server chromium:chromium fail2ban-regex:fail2ban \
                journalctl:systemd systemd-journal-remote:systemd-journal-remote

.PHONY: venv system-deps demo test lint bench bench-deps clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

# Installs the Debian packages the tests need when they are missing (root + apt only).
system-deps:
	@missing=""; for pair in $(SYSTEM_TOOLS); do bin=$${pair%%:*}; pkg=$${pair##*:}; \
	  command -v $$bin >/dev/null 2>&1 || [ -x /usr/sbin/$$bin ] || [ -x /lib/systemd/$$bin ] || \
	    missing="$$missing $$pkg"; done; \
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

# Benchmark peers: Debian's fail2ban and crowdsec. crowdsec's install registers with its
# central API unless that credentials file already has content: this host stays offline.
bench-deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  missing=""; command -v fail2ban-regex >/dev/null 2>&1 || missing="$$missing fail2ban"; \
	  command -v crowdsec >/dev/null 2>&1 || missing="$$missing crowdsec"; \
	  if [ -n "$$missing" ]; then \
	    mkdir -p /etc/crowdsec; [ -s /etc/crowdsec/online_api_credentials.yaml ] || \
	      echo "# offline: no Central API registration" > /etc/crowdsec/online_api_credentials.yaml; \
	    echo "installing Debian packages:$$missing"; apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null \
	      || echo "WARNING: could not install$$missing: those peers will be reported unavailable"; \
	  fi; \
	else echo "WARNING: not root or no apt-get: missing peers will be reported unavailable"; fi

bench: venv bench-deps
	$(PY) -m bench.run bench/out

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
