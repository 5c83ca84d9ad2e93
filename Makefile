# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# Both create .venv at the repository root when it is missing and install what they need.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The CPU build of torch 2.13.0 installs here without a multi-GB CUDA download.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed
DEMO_OUT ?= demo_output
# ROS 2 tools that PyPI lacks (launch, launch_ros, ros2cli, ament linters, offline rosdep data).
# CI has them at ../shared/ros-tools; without them the tests that need them skip.
ROS_TOOLS ?= ../shared/ros-tools
ROS_WHEELS := $(wildcard $(ROS_TOOLS)/wheels/*.whl)
ROS_STAMP := $(VENV)/.ros-tools-installed
# Where `make ros-install` puts the package for `ros2 launch` in a pip world (no colcon).
ROS_PREFIX ?= install/mtl_perception
ROS_BUILD ?= build/ros

.PHONY: venv ros-tools ros-install demo test lint bench clean

venv: $(STAMP)

$(STAMP): setup.py Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[core,lite,onnx,synth,bag,ros,dev,cityscapes]" "$(TORCH_SPEC)"
	touch $(STAMP)

# The ros-tools wheels with --no-index (PyPI's `launch` is another project), without
# launch_testing / launch_testing_ros / launch_pytest: their pytest plugins break pytest 9.
$(ROS_STAMP): $(STAMP) $(ROS_WHEELS)
	$(PY) -m pip install --quiet -r $(ROS_TOOLS)/wheels/requirements-pypi.txt \
		colcon-common-extensions rosdep
	$(PY) -m pip install --quiet --no-index --no-deps \
		$(filter-out $(wildcard $(ROS_TOOLS)/wheels/launch_testing*.whl \
			$(ROS_TOOLS)/wheels/launch_pytest*.whl),$(ROS_WHEELS))
	touch $(ROS_STAMP)

ros-tools: $(if $(ROS_WHEELS),$(ROS_STAMP))

# A non-editable install with share/ (launch, config, rviz, models), the ament index marker and
# the executables in lib/mtl_perception, as colcon lays them out; then
#   source $(ROS_PREFIX)/env.sh && ros2 launch mtl_perception camera.launch.py
# (PY=... on the command line skips the venv set-up: the tests do that.)
ros-install: $(if $(filter command line,$(origin PY)),,$(STAMP))
	rm -rf $(ROS_BUILD) $(ROS_PREFIX)
	mkdir -p $(ROS_BUILD)
	$(PY) setup.py --quiet egg_info --egg-base $(ROS_BUILD) build --build-base $(ROS_BUILD) \
		install --prefix $(abspath $(ROS_PREFIX)) --record $(ROS_BUILD)/installed.txt \
		--single-version-externally-managed 2>$(ROS_BUILD)/setup.log || \
		(cat $(ROS_BUILD)/setup.log; exit 1)
	purelib=$$($(PY) -c 'import sys, sysconfig; print(sysconfig.get_path("purelib", \
		vars={"base": sys.argv[1], "platbase": sys.argv[1]}))' $(abspath $(ROS_PREFIX))); \
	venv=$$($(PY) -c 'import sys; print(sys.prefix)'); \
	printf 'export AMENT_PREFIX_PATH=%s:%s$${AMENT_PREFIX_PATH:+:$$AMENT_PREFIX_PATH}\nexport PYTHONPATH=%s$${PYTHONPATH:+:$$PYTHONPATH}\nexport PATH=%s/bin:$$PATH\n' \
		"$(abspath $(ROS_PREFIX))" "$$venv" "$$purelib" "$$venv" > $(ROS_PREFIX)/env.sh
	@echo "installed into $(ROS_PREFIX); run: source $(ROS_PREFIX)/env.sh"

demo: $(STAMP)
	$(VENV)/bin/mtl_demo --out $(DEMO_OUT)

test: $(STAMP) ros-tools
	$(VENV)/bin/ruff check mtl_perception test experiments setup.py launch
	$(PY) -m pytest -q test

# ruff is configured to agree with ament (ruff.toml); where the ament linters are installed
# (make ros-tools) their tests run too, as colcon test would.
lint: $(STAMP)
	$(VENV)/bin/ruff check mtl_perception test experiments setup.py launch
	$(PY) -m pytest -q test/test_flake8.py test/test_pep257.py test/test_copyright.py \
		test/test_xmllint.py

bench: $(STAMP)
	$(VENV)/bin/mtl_benchmark

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache $(DEMO_OUT)
