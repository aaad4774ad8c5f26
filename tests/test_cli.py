"""Tests of the ``spikegnn`` command line: outputs, JSON reports, error sentences, exit codes."""

from __future__ import annotations

import json

import pytest

from golden.config import CoreConfig
from sim.cli import main
from sim.cycles import predict_cycles


def run(capsys, *argv):
    """Run the command line and return ``(status, stdout, stderr)``."""
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_verilog_writes_header_and_module(tmp_path, capsys):
    config = tmp_path / "small.json"
    CoreConfig(layer_dims=(4, 6, 3), lanes=2, timesteps=4).to_json(config)
    target = tmp_path / "out" / "core.v"
    status, out, _ = run(capsys, "verilog", "--config", str(config), "-o", str(target))
    assert status == 0
    text = target.read_text()
    assert "//   layer_dims = [4, 6, 3]" in text
    assert "//   lanes = 2" in text
    assert "module spikegnn_core(" in text
    assert f"wrote {target}" in out
    assert "// Memory style: block; MAC product register: no" in text
    assert "registered_product" not in text


def test_verilog_for_the_ecp5_boards(tmp_path, capsys):
    target = tmp_path / "core_ecp5.v"
    status, out, _ = run(capsys, "verilog", "--family", "ecp5", "-o", str(target))
    assert status == 0
    text = target.read_text()
    assert "// Memory style: distributed; MAC product register: yes" in text
    assert text.count('(* ram_style = "distributed" *)') >= 4
    lanes = CoreConfig().lanes
    assert {f"registered_product_{k}" for k in range(lanes)} <= set(text.split())
    assert "as the ecp5 boards build the core" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"lanes": 0}', "lanes must be from 1 to 64, but it is 0."),
        ('{"colour": 3}', "unknown configuration key 'colour'"),
        ("{not json", "is not valid JSON"),
        ('{"layer_dims": [7]}', "layer_dims must name at least two sizes"),
        ('{"threshold": -1}', "threshold must be a positive finite number, but it is -1"),
    ],
)
def test_bad_configuration_is_one_sentence_and_status_2(tmp_path, capsys, content, message):
    config = tmp_path / "bad.json"
    config.write_text(content)
    status, out, err = run(capsys, "verilog", "--config", str(config), "-o", str(tmp_path / "x.v"))
    assert status == 2
    assert message in err
    assert err.startswith("spikegnn: error: ")
    assert err.count("\n") == 1
    assert not (tmp_path / "x.v").exists()


def test_missing_configuration_file(tmp_path, capsys):
    status, _, err = run(capsys, "check-config", "--config", str(tmp_path / "none.json"))
    assert status == 2
    assert f"configuration file {tmp_path / 'none.json'} does not exist." in err


def test_verilog_refuses_a_folder_as_output(tmp_path, capsys):
    status, _, err = run(capsys, "verilog", "-o", str(tmp_path))
    assert status == 2
    assert "-o must name a file" in err


def test_check_config_reports_unreachable_threshold(tmp_path, capsys):
    config = tmp_path / "silent.json"
    CoreConfig(threshold=1.0, tau_mem=10.0, timesteps=8).to_json(config)
    status, out, _ = run(capsys, "check-config", "--config", str(config))
    # 1 - exp(-0.8) = 0.551 < 1.0: no neuron can spike.
    assert status == 1
    assert "threshold unreachable" in out
    status, out, _ = run(capsys, "check-config")
    assert status == 0
    assert "threshold reachable" in out


def test_compare_rejects_a_nonpositive_random_count(capsys):
    status, _, err = run(capsys, "compare", "--random", "0")
    assert status == 2
    assert "--random must be a positive graph count, but it is 0." in err


def test_compare_rejects_graphs_of_the_wrong_width(tmp_path, capsys):
    # Two graphs with node tags 0 and 1 only: two one-hot features, but the core takes 7.
    dataset = tmp_path / "tiny.txt"
    dataset.write_text("2\n2 0\n0 1 1\n1 1 0\n2 1\n1 1 1\n0 1 0\n")
    status, _, err = run(capsys, "compare", "--graphs", str(dataset))
    assert status == 2
    assert "have 2 node features but the configuration's first layer takes 7" in err


def test_compare_random_graphs_writes_json(tmp_path, capsys):
    report = tmp_path / "compare.json"
    status, out, _ = run(capsys, "compare", "--random", "4", "--seed", "3", "--json", str(report))
    assert status == 0, out
    data = json.loads(report.read_text())
    assert data["graphs"] == 4
    assert data["mismatches"] == 0
    assert data["simulator"] in ("verilator", "icarus")
    assert len(data["cycles"]) == 4
    assert all(c >= b for c, b in zip(data["cycles"], data["lower_bound_cycles"], strict=True))
    assert 0.0 <= data["class_agreement_with_float"] <= 1.0
    assert "mismatches (RTL vs golden)     0" in out


def test_cycles_command_matches_the_model(capsys):
    from golden.bench import default_graphs

    status, out, _ = run(capsys, "cycles")
    assert status == 0
    _, graphs = default_graphs()
    config = CoreConfig()
    import numpy as np

    median = int(np.median([predict_cycles(config, g.adjacency) for g in graphs]))
    assert f"cycles per graph: median {median}," in out


def write_folded_dataset(folder, n_graphs: int = 20) -> None:
    """A built-in dataset in the graph text format, with two folds in ``10fold_idx``."""
    import numpy as np

    from golden.builtin import builtin_dataset

    dataset = builtin_dataset(n_graphs=n_graphs, seed=4, max_nodes=8)
    folder.mkdir()
    lines = [str(len(dataset))]
    for graph in dataset:
        lines.append(f"{graph.n_nodes} {graph.label}")
        for node in range(graph.n_nodes):
            neighbours = np.flatnonzero(graph.adjacency[node])
            tag = int(np.argmax(graph.features[node]))
            lines.append(" ".join(map(str, [tag, len(neighbours), *neighbours])))
    (folder / f"{folder.name}.txt").write_text("\n".join(lines) + "\n")
    (folder / "10fold_idx").mkdir()
    halves = (np.arange(0, n_graphs, 2), np.arange(1, n_graphs, 2))
    for k, (train, test) in enumerate((halves, halves[::-1]), start=1):
        (folder / "10fold_idx" / f"train_idx-{k}.txt").write_text("\n".join(map(str, train)))
        (folder / "10fold_idx" / f"test_idx-{k}.txt").write_text("\n".join(map(str, test)))


def test_crossval_trains_every_fold_and_prints_the_table(tmp_path, capsys):
    data = tmp_path / "toy"
    write_folded_dataset(data)
    out_dir = tmp_path / "cv"
    argv = ["crossval", "--data", str(data), "--out-dir", str(out_dir), "--epochs", "2"]
    status, out, _ = run(capsys, *argv, "--backends", "float,fixed")
    assert status == 0, out
    report = json.loads((out_dir / "results.json").read_text())
    assert [row["fold"] for row in report["folds"]] == [1, 2]
    assert all(row["fixed"]["graphs"] == 10 for row in report["folds"])
    fixed = [row["fixed"]["accuracy"] for row in report["folds"]]
    assert report["summary"]["fixed"]["accuracies"] == fixed
    assert f"mean  {report['summary']['float']['mean']:>8.4f}" in out
    assert (out_dir / "fold-1.npz").is_file() and (out_dir / "fold-2.npz").is_file()

    status, _, err = run(capsys, *argv, "--backends", "fixed")
    assert status == 2
    assert "already exists; pass --overwrite to train it again or --reuse" in err
    status, out, _ = run(capsys, *argv, "--backends", "fixed", "--reuse")
    assert status == 0
    again = json.loads((out_dir / "results.json").read_text())
    assert again["summary"]["fixed"]["accuracies"] == fixed
    status, _, err = run(capsys, *argv, "--backends", "fixed,gpu")
    assert status == 2
    assert "--backends must list some of float, fixed, rtl, but it is 'fixed,gpu'" in err


def test_demo_without_rtl_reports_accuracy(capsys):
    status, out, _ = run(capsys, "demo", "--no-rtl")
    assert status == 0
    assert out.count("  accuracy: ") == 2
    assert "firing rates per layer" in out
