# The README's two commands: `make demo` and `make test`. Both create .venv and install first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast install bench clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-test.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip >/dev/null
	$(PY) -m pip install -r requirements.txt -r requirements-test.txt
	$(PY) -m pip install --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Loopback unless SINGANSEG_ADDRESS says otherwise (README: "Sharing the dashboard with a class").
SINGANSEG_ADDRESS ?= 127.0.0.1

demo: install
	$(PY) -m streamlit run app.py --server.headless true --server.address $(SINGANSEG_ADDRESS)

# Two workers (pytest-xdist) on the 2-core machines; a test file stays on one worker (its servers and fixtures).
test: install
	$(PY) -m pytest -p no:cacheprovider -n 2 --dist loadfile

# Everything but the tests marked slow (> ~1.5 s on 2 quiet cores) and the browser test: under 2 minutes on 2 cores.
test-fast: install
	$(PY) -m pytest -p no:cacheprovider -m "not slow and not browser" -n 2

bench: install
	$(PY) -m bench.run_all

clean:
	rm -rf $(VENV) workspace tests/artifacts
