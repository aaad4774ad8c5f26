"""Tests of the design-space sweep and of ``spikegnn synth``, with the synthesis run replaced by
a stand-in report so that the plumbing is checked without minutes of place and route."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import hdl.sweep as sweep
import hdl.synth
from golden.builtin import builtin_dataset
from golden.config import ConfigError, CoreConfig
from hdl.boards import BOARDS
from sim.cli import main as cli_main
from sim.cycles import predict_cycles


def fake_report(config: CoreConfig, board: str, clock_mhz: float | None) -> dict:
    """A report whose figures depend on the configuration, as a real build's would."""
    return {
        "board": board,
        "device": "test-device",
        "clock_mhz": clock_mhz or 40.0,
        "fmax_mhz": 120.0 / config.lanes + config.weight_width,
        "timing_met": 120.0 / config.lanes + config.weight_width >= (clock_mhz or 40.0),
        "lut": 500 * config.lanes,
        "lut_total": 10000,
        "ff": 300 * config.lanes,
        "dsp": config.lanes,
        "dsp_total": 8,
        "bram": 4,
        "bram_total": 30,
        "spram": 0,
        "spram_total": 4,
        "seconds": 1.0,
        "bitstream": "x.bin",
        "clocks": {},
        "cells": {},
    }


@pytest.fixture
def fake_synthesize(monkeypatch):
    calls = []

    def synthesize(config, board, build_dir=None, clock_mhz=None, seed=None):
        calls.append((config.lanes, config.weight_width, str(build_dir), clock_mhz, seed))
        if config.lanes > 8:
            raise hdl.synth.SynthesisError(
                f"{board}: the design does not fit: ICESTORM_DSP 16/8; see log:\ntail"
            )
        return fake_report(config, board, clock_mhz)

    monkeypatch.setattr(sweep, "synthesize", synthesize)
    monkeypatch.setattr(hdl.synth, "synthesize", synthesize)
    return calls


@pytest.fixture(scope="module")
def adjacencies():
    return [graph.adjacency for graph in list(builtin_dataset(n_graphs=10, seed=3))]


def test_sweep_config_sets_lanes_and_weight_format():
    config = sweep.sweep_config(CoreConfig(), 4, 6)
    assert (config.lanes, config.weight_width, config.weight_frac_bits) == (4, 6, 4)
    assert config.layer_dims == CoreConfig().layer_dims
    with pytest.raises(ConfigError, match="weight_width must be at least 3.*got 2"):
        sweep.sweep_config(CoreConfig(), 4, 2)
    with pytest.raises(ConfigError, match="lanes"):
        sweep.sweep_config(CoreConfig(), 0, 8)


def test_cycles_per_graph_is_the_median_of_the_cycle_model(adjacencies):
    config = CoreConfig(lanes=4)
    expected = int(np.median([predict_cycles(config, a) for a in adjacencies]))
    assert sweep.cycles_per_graph(config, adjacencies) == expected
    assert sweep.cycles_per_graph(CoreConfig(lanes=8), adjacencies) < expected


def test_run_sweep_rows_csv_and_unfit_points(tmp_path, fake_synthesize, adjacencies):
    rows = sweep.run_sweep(
        "ulx3s", [4, 16], [6, 8], clock_mhz=30.0, out_dir=tmp_path, adjacencies=adjacencies
    )
    assert [(r["lanes"], r["weight_width"]) for r in rows] == [(4, 6), (4, 8), (16, 6), (16, 8)]
    assert [call[:2] for call in fake_synthesize] == [(4, 6), (4, 8), (16, 6), (16, 8)]
    assert fake_synthesize[0][2] == str(tmp_path / "ulx3s" / "lanes4_w6")
    assert all(call[3] == 30.0 for call in fake_synthesize)

    first = rows[0]
    assert first["status"] == "ok"
    assert first["fmax_mhz"] == pytest.approx(36.0)
    assert first["lut_percent"] == 20.0
    cycles = sweep.cycles_per_graph(sweep.sweep_config(CoreConfig(), 4, 6), adjacencies)
    assert first["cycles_median"] == cycles
    assert first["graphs_per_second"] == round(30.0e6 / cycles)
    assert [r["status"] for r in rows[2:]] == ["does not fit", "does not fit"]

    with (tmp_path / "sweep_ulx3s.csv").open() as handle:
        table = list(csv.DictReader(handle))
    assert tuple(table[0]) == sweep.SWEEP_COLUMNS
    assert [t["status"] for t in table] == ["ok", "ok", "does not fit", "does not fit"]
    assert table[1]["fmax_mhz"] == "38.0" and table[3]["fmax_mhz"] == ""

    assert sweep.largest_passing_lanes(rows, 8) == 4
    assert sweep.largest_passing_lanes(rows, 7) is None
    text = sweep.format_sweep_table(rows)
    assert "does not fit" in text and "36.00" in text


def test_write_plot_makes_a_png(tmp_path, fake_synthesize, adjacencies):
    rows = sweep.run_sweep("icebreaker", [1, 2, 4], [8], out_dir=tmp_path, adjacencies=adjacencies)
    path = sweep.write_plot(rows, tmp_path / "plot.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_run_sweep_rejects_unknown_board_and_empty_grid(tmp_path):
    with pytest.raises(ValueError, match="unknown board 'nope'"):
        sweep.run_sweep("nope", [8], [8], out_dir=tmp_path)
    with pytest.raises(ValueError, match="at least one lane count"):
        sweep.run_sweep("ulx3s", [], [8], out_dir=tmp_path)


def test_sweep_command_line_rejects_bad_point_before_building(capsys, fake_synthesize):
    assert sweep.main(["ulx3s", "--lanes", "4", "--weight-widths", "2"]) == 2
    assert "weight_width must be at least 3" in capsys.readouterr().err
    assert fake_synthesize == []


def test_synth_command_writes_json_and_reports_timing(tmp_path, capsys, fake_synthesize):
    path = tmp_path / "out" / "report.json"
    assert cli_main(["synth", "--board", "ulx3s", "--clock-mhz", "20", "--json", str(path)]) == 0
    report = json.loads(path.read_text())
    assert (report["board"], report["clock_mhz"], report["fmax_mhz"]) == ("ulx3s", 20.0, 23.0)
    assert report["timing_met"] is True and report["lut"] == 4000
    assert "clocks" not in report and "cells" not in report

    assert cli_main(["synth", "--board", "ulx3s", "--clock-mhz", "100"]) == 1
    assert "timing not met: Fmax 23.00 MHz is below the 100.00 MHz clock" in (
        capsys.readouterr().err
    )
    # The placement seed goes through to the flow (None: the board's own).
    assert fake_synthesize[0][4] is None
    assert cli_main(["synth", "--board", "ulx3s", "--clock-mhz", "20", "--seed", "7"]) == 0
    assert fake_synthesize[-1][4] == 7


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_every_board_goes_through_the_commands(board, tmp_path, capsys, fake_synthesize):
    path = tmp_path / "report.json"
    assert cli_main(["synth", "--board", board, "--clock-mhz", "20", "--json", str(path)]) == 0
    assert json.loads(path.read_text())["board"] == board
    assert hdl.synth.main([board, "--build-root", str(tmp_path), "--clock-mhz", "20"]) == 0
    assert fake_synthesize[-1][2] == str(tmp_path / board)
    assert capsys.readouterr().out.splitlines()[-1].split()[:2] == [board, "test-device"]
    assert sweep.main([board, "--lanes", "4", "--weight-widths", "2"]) == 2
    assert "weight_width must be at least 3" in capsys.readouterr().err


def test_synth_command_errors(tmp_path, capsys, fake_synthesize):
    assert cli_main(["synth", "--board", "nope"]) == 2
    assert "'nope' is not a known board" in capsys.readouterr().err
    config_path = tmp_path / "wide.json"
    CoreConfig(lanes=16).to_json(config_path)
    assert cli_main(["synth", "--board", "icebreaker", "--config", str(config_path)]) == 2
    error = capsys.readouterr().err
    assert error.strip() == (
        "spikegnn: error: icebreaker: the design does not fit: ICESTORM_DSP 16/8; see log:"
    )
