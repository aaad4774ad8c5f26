# spikegnn: every target creates the virtual environment on first use, so a fresh clone needs
# nothing but `make demo` or `make test`.

PYTHON_SYSTEM ?= python3
VENV          := .venv
PY            := $(VENV)/bin/python
STAMP         := $(VENV)/.installed
SIM           ?= verilator
CONFIG        ?=
N             ?= 1000
# Training options of `make crossval`: the MUTAG recipe of docs/training.md.
RECIPE        ?= --degree-features 4 --readout-bias

export SIM

.PHONY: help demo test lint verilog compare bench bitstream report sweep crossval soak formal fuzz clean

help:
	@echo "make demo      golden models and RTL: trained weights on MUTAG, or built-in data"
	@echo "make test      lint and run the whole test suite"
	@echo "make verilog   write build/verilog/spikegnn_core.v for the default configuration"
	@echo "make compare   float vs fixed-point golden vs RTL simulation on built-in graphs"
	@echo "make bench     throughput of the reference and fixed-point golden models on MUTAG"
	@echo "make soak N=10000   N random graphs through the simulated board's UART link vs golden"
	@echo "make crossval  train and measure float, fixed and RTL on every MUTAG fold (DATA=... RECIPE=...)"
	@echo "make bitstream BOARD=icebreaker|ulx3s|icesugar|orangecrab   bitstream and build/<board>/report.json"
	@echo "make report    build every board and print the table of their figures"
	@echo "make sweep BOARD=ulx3s [LANES='4 8 16'] [WIDTHS='6 8'] [CLOCK=100]   design-space CSV + plot"
	@echo "make formal   every SymbiYosys check, deep ones included (build/formal/results.json)"
	@echo "make fuzz     loader fuzzing and random-configuration RTL tests with many examples"
	@echo "make clean     remove build outputs (keeps .venv)"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON_SYSTEM) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $@

demo: $(STAMP)
	$(VENV)/bin/spikegnn demo

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check --diff golden hdl sim tests
	$(PY) -m pytest -q tests

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check golden hdl sim tests

verilog: $(STAMP)
	$(VENV)/bin/spikegnn verilog -o build/verilog/spikegnn_core.v $(if $(CONFIG),--config $(CONFIG))

compare: $(STAMP)
	$(VENV)/bin/spikegnn compare --builtin $(if $(CONFIG),--config $(CONFIG)) --json build/compare.json

bench: $(STAMP)
	$(VENV)/bin/spikegnn bench

soak: $(STAMP)
	$(PY) -m sim.soak --graphs $(N) $(if $(CONFIG),--config $(CONFIG)) --json build/soak.json

DATA ?= ../shared/data/MUTAG

crossval: $(STAMP)
	$(VENV)/bin/spikegnn crossval --data $(DATA) --out-dir build/crossval --overwrite $(RECIPE) $(if $(CONFIG),--config $(CONFIG))

formal: $(STAMP)
	$(PY) -m hdl.formal --json build/formal/results.json

fuzz: $(STAMP)
	SPIKEGNN_FUZZ_EXAMPLES=2000 SPIKEGNN_PROPERTY_EXAMPLES=12 $(PY) -m pytest -q \
		tests/test_fuzz_loaders.py tests/test_property_rtl.py

BOARD ?= icebreaker

bitstream: $(STAMP)
	$(PY) -m hdl.synth $(BOARD) $(if $(CONFIG),--config $(CONFIG)) $(if $(SEED),--seed $(SEED))

report: $(STAMP)
	$(PY) -m hdl.synth $(if $(CONFIG),--config $(CONFIG))

LANES  ?= 1 2 4 8 16
WIDTHS ?= 6 8
CLOCK  ?=

sweep: $(STAMP)
	$(PY) -m hdl.sweep $(BOARD) --lanes $(LANES) --weight-widths $(WIDTHS) \
		$(if $(CLOCK),--clock-mhz $(CLOCK)) $(if $(CONFIG),--config $(CONFIG))

clean:
	rm -rf build sim_build
