# Tokencast: the two commands are `make demo` and `make test`; nothing else is needed but python3 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
DEMO_ADDR ?= 127.0.0.1:8000

.PHONY: venv system-packages lint format test demo clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

system-packages:
	./scripts/ensure-system-packages.sh

lint: venv
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy finops ingest forecasting planning

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: venv system-packages lint
	$(BIN)/python -m pytest
	PYTHON=$(BIN)/python ./deploy/smoke.sh

demo: venv
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo_setup
	$(BIN)/python manage.py demo_planning
	@echo "Serving Tokencast at http://$(DEMO_ADDR)/ (Ctrl-C to stop)"
	$(BIN)/python manage.py runserver --noreload $(DEMO_ADDR)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
