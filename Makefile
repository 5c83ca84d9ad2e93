# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# Both create .venv at the repository root when it is missing and install what they need.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The CPU build of torch 2.13.0 installs here without a multi-GB CUDA download.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed
DEMO_OUT ?= demo_output

.PHONY: venv demo test lint bench clean

venv: $(STAMP)

$(STAMP): setup.py Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[core,lite,synth,bag,ros,dev,cityscapes]" "$(TORCH_SPEC)"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/mtl_demo --out $(DEMO_OUT)

test: $(STAMP)
	$(VENV)/bin/ruff check mtl_perception test experiments setup.py launch
	$(PY) -m pytest -q test

lint: $(STAMP)
	$(VENV)/bin/ruff check mtl_perception test experiments setup.py launch

bench: $(STAMP)
	$(VENV)/bin/mtl_benchmark

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache $(DEMO_OUT)
