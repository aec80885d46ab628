# Three commands do all the set-up on a fresh machine:
#   make lab   - .venv with the package, then JupyterLab on the tour notebook
#   make test  - .venv with the test extras, Chromium if missing, the whole suite on TEST_WORKERS
#                processes (then its 15 slowest tests)
#   make app   - the Lens notebook served as an app (Voila) for a class; another notebook:
#                make app APP_NOTEBOOK=notebooks/<name>.ipynb
# On the first one, TORCH_INDEX=https://download.pytorch.org/whl/cpu installs torch and torchvision
# from PyTorch's CPU-only index before the package (on Linux PyPI's wheels bring the CUDA libraries).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
LAB_PORT ?= 8888
APP_PORT ?= 8866
APP_NOTEBOOK ?= notebooks/01_lens.ipynb
TORCH_INDEX ?=
TEST_WORKERS ?= 2

.PHONY: lab app test lint install install-test chromium benchmark clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(if $(TORCH_INDEX),$(PY) -m pip install torch torchvision --index-url $(TORCH_INDEX))

# Stamp files: reinstall only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PY) -m pip install -e '.[test]'
	touch $@ $(VENV)/.installed

$(VENV)/.installed-app: pyproject.toml | $(PY)
	$(PY) -m pip install -e '.[app]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

chromium:
	@tools/ensure-chromium >/dev/null

lab: $(VENV)/.installed
	LAB_PORT=$(LAB_PORT) tools/start-lab

# The URL is printed once the server answers (after the install, the first time).
app: $(VENV)/.installed-app
	APP_PORT=$(APP_PORT) APP_NOTEBOOK=$(APP_NOTEBOOK) APP_PYTHON=$(PY) tools/start-app

test: $(VENV)/.installed-test chromium lint
	CHROMIUM="$$(tools/ensure-chromium)" $(PY) -m pytest -n $(TEST_WORKERS) --durations=15

# Lint (ruff, rules in pyproject.toml) and type checks of the whole package (mypy settings there too).
lint: $(VENV)/.installed-test
	$(PY) -m ruff check nnlens_widgets tests benchmarks labharness
	$(PY) -m mypy nnlens_widgets

benchmark: $(VENV)/.installed-test chromium
	CHROMIUM="$$(tools/ensure-chromium)" $(PY) benchmarks/latency.py

clean:
	rm -rf $(VENV) .pytest_cache
