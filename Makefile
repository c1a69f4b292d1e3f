# Quick start: `make demo` (set up, then run the demo headless on the real clip)
#              `make test` (set up, then run the test suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SHARED ?= ../shared
CLIP ?= $(SHARED)/media/sports2d_demo.mp4
STAMP := $(VENV)/.installed

.PHONY: setup system demo test train benchmarks clean

setup: $(STAMP)

# System libraries: Open3D needs libusb; window tests use Xvfb. Installed when root,
# otherwise named in the README for the user to install.
system:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  dpkg -s libusb-1.0-0 xvfb >/dev/null 2>&1 || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libusb-1.0-0 xvfb >/dev/null; }; \
	else echo "not root: make sure libusb-1.0-0 and xvfb are installed (see README)"; fi

$(STAMP): requirements.txt Makefile
	$(MAKE) system
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q setuptools==80.9.0 wheel==0.48.0 Cython==3.3.1 numpy==2.4.6
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q --no-deps -r requirements.txt
	$(BIN)/pip install -q --no-deps --no-build-isolation --no-binary xtcocotools xtcocotools==1.14.3
	touch $(STAMP)

# The clip is ../shared's when present, else the same file from the PyPI wheel sports2d
# 0.8.34 (BSD-3-Clause), fetched once into .cache/ (python -m app.democlip).
demo: setup
	clip="$$($(BIN)/python -m app.democlip $(CLIP))" && \
	$(BIN)/python run_demo.py --source "$$clip" --export out/demo --render-video --max-frames 120

test: setup
	$(BIN)/python -m pytest -q tests

# The shipped lifter in two stages (about 170 minutes on 2 cores): a first cosine schedule,
# then a warm restart from its best weights.
train: setup
	$(BIN)/python -m lifter.train --config configs/train_default.yaml
	$(BIN)/python -m lifter.train --config configs/train_finetune.yaml

benchmarks: setup
	$(BIN)/python benchmarks/lifter_speed.py

clean:
	rm -rf $(VENV) out .cache
