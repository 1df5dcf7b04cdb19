# sdnkit: `make run` starts the controller with a local lab, `make test` runs every test.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.install-stamp
# the interpreter the venv is made from (Debian's python3 on a fresh machine)
PYTHON ?= python3

.PHONY: install run test test-host test-uml lint bench clean screenshots

# byte-compiled up front: imports cost an agent's every apply (and this machine sets PYTHONDONTWRITEBYTECODE)
install: $(STAMP)
	@./scripts/install-deps.sh
	@$(PY) -m compileall -q src >/dev/null

$(STAMP): pyproject.toml
	./scripts/install-deps.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

lint: install
	$(VENV)/bin/ruff check src tests bench

run: install
	$(VENV)/bin/sdn demo --serve

test: install lint test-host test-uml

test-host: install
	$(VENV)/bin/pytest -q tests -m "not uml"

# exit code 77 from the UML runner: UML cannot start on this machine; it said why, the tests are skipped
test-uml: install
	@rc=0; $(PY) -m sdnkit.lab.uml run --timeout 3600 -- $(abspath $(VENV))/bin/pytest -q tests -m uml -p no:cacheprovider || rc=$$?; \
	if [ $$rc -eq 77 ]; then echo "test-uml: SKIPPED (UML unavailable, reason above)"; exit 0; fi; exit $$rc

# the web UI tests' screenshots into docs/screenshots (committed; README.md and docs/ui.md show some)
screenshots: install
	SDN_UI_SCREENSHOTS=docs/screenshots $(VENV)/bin/pytest -q tests/ui

bench: install
	$(PY) bench/render.py
	$(PY) bench/apply.py
	$(PY) bench/ipam.py
	$(PY) bench/store.py
	$(PY) bench/evpn.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info src/*.egg-info
