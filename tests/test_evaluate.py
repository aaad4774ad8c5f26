"""Tests of evaluation: accuracy of each backend against a hand computation, graphs over the
core's limits, the RTL backend against the fixed-point model, and ``spikegnn eval``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from golden.builtin import builtin_dataset, random_graph
from golden.config import CoreConfig
from golden.datasets import Graph, GraphDataset, load_dataset, mutag_path
from golden.evaluate import OversizeGraphError, evaluate, format_crossval
from golden.fixed import FixedPointModel
from golden.weights import load_weights, packaged_weights_path, save_weights
from sim.cli import main

CONFIG = CoreConfig()


def trained_like_weights(seed: int = 0) -> list[np.ndarray]:
    """Weights that make both layers fire: positive drive plus noise, on the core's grid."""
    rng = np.random.default_rng(seed)
    first = 0.5 + rng.normal(0, 0.4, (7, 32))
    second = 0.05 + rng.normal(0, 0.2, (32, 2))
    return [np.round(w * 64) / 64 for w in (first, second)]


@pytest.fixture(scope="module")
def weights_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "w.npz"
    return save_weights(path, CONFIG, trained_like_weights(), metadata={"dataset": "builtin"})


@pytest.fixture(scope="module")
def dataset():
    return builtin_dataset(n_graphs=30, seed=2, max_nodes=12)


def with_big_graph(dataset: GraphDataset, n_nodes: int = 40) -> GraphDataset:
    big = random_graph(np.random.default_rng(1), n_nodes, 0.05, 7, label=1, name="big")
    eye = np.eye(7)
    big = Graph(big.adjacency, eye[np.arange(n_nodes) % 7], 1, "big")
    graphs = (*dataset.graphs[:5], big, *dataset.graphs[5:10])
    return GraphDataset("mixed", graphs, 2, 7)


def test_fixed_accuracy_equals_the_fixed_model_by_hand(weights_path, dataset):
    weights = load_weights(weights_path)
    result = evaluate(weights, dataset, "fixed")
    model = FixedPointModel.from_float(CONFIG, [w.T for w in trained_like_weights()])
    classes = [model.graph_classify(g.features, g.adjacency) for g in dataset]
    correct = sum(c == g.label for c, g in zip(classes, dataset, strict=True))
    assert result.classes == classes
    assert result.correct == correct and result.graphs == 30
    assert result.accuracy == correct / 30
    assert (
        result.firing_rates
        == model.run_graphs([(g.adjacency, g.features) for g in dataset]).firing_rates()
    )
    assert all(rate > 0 for rate in result.firing_rates)


def test_float_backend_uses_the_reference_model(weights_path, dataset):
    weights = load_weights(weights_path)
    network = weights.reference_network()
    result = evaluate(weights, dataset, "float", indices=[0, 3, 4])
    expected = [
        network.graph_classify(dataset[i].features, dataset[i].adjacency) for i in (0, 3, 4)
    ]
    assert result.classes == expected and result.graphs == 3


def test_oversize_graph_is_named_or_skipped(weights_path, dataset):
    weights = load_weights(weights_path)
    mixed = with_big_graph(dataset)
    for backend in ("fixed", "rtl"):
        with pytest.raises(OversizeGraphError, match=r"graph 5 \(big\) has 40 nodes, .*= 32"):
            evaluate(weights, mixed, backend)
    skipped = evaluate(weights, mixed, "fixed", skip_oversize=True)
    assert skipped.skipped == 1 and skipped.skipped_graphs == [5] and skipped.graphs == 10
    assert evaluate(weights, mixed, "float").graphs == 11
    assert evaluate(weights, mixed, "float", skip_oversize=True).graphs == 10


def test_tag_count_must_match_the_first_layer(weights_path):
    weights = load_weights(weights_path)
    narrow = builtin_dataset(n_graphs=10, n_tags=4)
    with pytest.raises(ValueError, match="have 4 node tags.* first layer takes 7"):
        evaluate(weights, narrow, "fixed")
    with pytest.raises(ValueError, match="backend must be one of float, fixed, rtl, not 'gpu'"):
        evaluate(weights, narrow, "gpu")


def test_readout_bias_shifts_the_class_sums(tmp_path, dataset):
    path = tmp_path / "b.npz"
    weights = load_weights(save_weights(path, CONFIG, trained_like_weights(), class_bias=[5, -2]))
    model = FixedPointModel.from_float(CONFIG, [w.T for w in trained_like_weights()])
    sums = model.run_graphs([(g.adjacency, g.features) for g in dataset]).class_sums
    expected = np.argmax(sums + np.array([5, -2]), axis=1)
    assert evaluate(weights, dataset, "fixed").classes == expected.tolist()
    assert evaluate(weights, dataset, "float").graphs == 30


def test_rtl_backend_equals_fixed(tmp_path, dataset):
    # A readout bias large enough to change some classes: the core's own (bias-free) class is
    # compared with the fixed model's, the host's readout adds the bias to both.
    path = save_weights(tmp_path / "b.npz", CONFIG, trained_like_weights(), class_bias=[0, -3])
    weights = load_weights(path)
    fixed = evaluate(weights, dataset, "fixed", indices=[0, 1, 2])
    rtl = evaluate(weights, dataset, "rtl", indices=[0, 1, 2], seed=3)
    assert rtl.mismatches == 0
    assert rtl.classes == fixed.classes and rtl.accuracy == fixed.accuracy
    assert rtl.firing_rates[0] is None
    assert rtl.firing_rates[1] == pytest.approx(fixed.firing_rates[1])


def test_format_crossval_table():
    report = {
        "folds": [
            {"fold": 1, "fixed": {"accuracy": 0.5}},
            {"fold": 2, "fixed": {"accuracy": 1.0}},
        ],
        "summary": {"fixed": {"mean": 0.75, "std": 0.25}},
    }
    assert format_crossval(report).splitlines() == [
        "fold     fixed",
        "   1    0.5000",
        "   2    1.0000",
        "mean    0.7500",
        "std     0.2500",
    ]


def write_text_dataset(path, dataset: GraphDataset) -> None:
    lines = [str(len(dataset))]
    for graph in dataset:
        lines.append(f"{graph.n_nodes} {graph.label}")
        for node in range(graph.n_nodes):
            neighbours = np.flatnonzero(graph.adjacency[node])
            tag = int(np.argmax(graph.features[node]))
            lines.append(" ".join(map(str, [tag, len(neighbours), *neighbours])))
    path.write_text("\n".join(lines) + "\n")


def test_eval_command_json_and_exit_codes(tmp_path, weights_path, dataset, capsys):
    data = tmp_path / "toy.txt"
    write_text_dataset(data, with_big_graph(dataset))
    report = tmp_path / "r.json"
    base = ["eval", "--data", str(data), "--weights", str(weights_path)]
    assert main([*base, "--backend", "fixed", "--skip-oversize", "--json", str(report)]) == 0
    figures = json.loads(report.read_text())
    assert figures["backend"] == "fixed" and figures["graphs"] == 10 and figures["skipped"] == 1
    assert len(figures["firing_rates"]) == 2
    assert f"accuracy {figures['accuracy']:.4f}" in capsys.readouterr().out

    assert main([*base, "--backend", "fixed"]) == 2
    assert "graph 5 (toy[5]) has 40 nodes" in capsys.readouterr().err
    missing = ["eval", "--data", str(data), "--weights", str(tmp_path / "none.npz")]
    assert main(missing) == 2
    assert "none.npz does not exist" in capsys.readouterr().err
    assert main(["eval", "--data", str(tmp_path / "nodata"), "--weights", str(weights_path)]) == 2
    assert "does not exist" in capsys.readouterr().err
    narrow = tmp_path / "narrow.txt"
    write_text_dataset(narrow, builtin_dataset(n_graphs=10, n_tags=4))
    assert main(["eval", "--data", str(narrow), "--weights", str(weights_path)]) == 2
    assert "have 4 node tags" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main([*base, "--backend", "gpu"])
    assert exit_info.value.code == 2


def test_committed_mutag_weights_classify_mutag():
    path = mutag_path()
    if not path.exists():
        pytest.skip(f"MUTAG is not at {path}: the shared benchmark data is not beside the repo")
    weights = load_weights(packaged_weights_path("mutag"))
    mutag = load_dataset(path)
    result = evaluate(weights, mutag, "fixed")
    assert result.graphs == 188 and result.skipped == 0
    assert result.accuracy == pytest.approx(weights.metadata["train_accuracy"], abs=1e-9)


def write_tudataset(folder, n_graphs: int = 12) -> None:
    """Three classes, three node tags (values 5, 6, 7), in the TUDataset raw format."""
    rng = np.random.default_rng(7)
    folder.mkdir()
    edges, indicator, tags, labels = [], [], [], []
    first = 1
    for g in range(n_graphs):
        n = int(rng.integers(3, 7))
        for i in range(n - 1):  # a path, both directions
            edges += [(first + i, first + i + 1), (first + i + 1, first + i)]
        indicator += [g + 1] * n
        tags += [int(t) for t in rng.integers(5, 8, size=n)]
        labels.append(g % 3)
        first += n
    (folder / "T_A.txt").write_text("\n".join(f"{a}, {b}" for a, b in edges) + "\n")
    (folder / "T_graph_indicator.txt").write_text("\n".join(map(str, indicator)) + "\n")
    (folder / "T_node_labels.txt").write_text("\n".join(map(str, tags)) + "\n")
    (folder / "T_graph_labels.txt").write_text("\n".join(map(str, labels)) + "\n")


def test_tudataset_with_three_tags_and_classes(tmp_path, capsys):
    data = tmp_path / "T"
    write_tudataset(data)
    config = tmp_path / "c.json"
    CoreConfig(layer_dims=(3, 8, 3)).to_json(config)
    weights = tmp_path / "w.npz"
    argv = ["train", "--data", str(data), "--config", str(config), "--epochs", "2"]
    assert main([*argv, "--out", str(weights)]) == 0
    report = tmp_path / "r.json"
    assert (
        main(["eval", "--data", str(data), "--weights", str(weights), "--json", str(report)]) == 0
    )
    figures = json.loads(report.read_text())
    loaded = load_weights(weights)
    dataset = load_dataset(data)
    assert (dataset.n_tags, dataset.n_classes) == (3, 3)
    classes = loaded.fixed_model().run_graphs([(g.adjacency, g.features) for g in dataset]).classes
    assert figures["graphs"] == 12
    assert figures["accuracy"] == float(np.mean(classes == dataset.labels))
    # Without --config the default configuration is sized to the data: 3 tags, 3 classes.
    sized = tmp_path / "x.npz"
    assert main(["train", "--data", str(data), "--epochs", "2", "--out", str(sized)]) == 0
    assert load_weights(sized).config.layer_dims == (3, CoreConfig().layer_dims[1], 3)
    # A configuration that does not take the tags plus degree columns: one sentence, status 2.
    capsys.readouterr()
    argv = [*argv, "--degree-features", "2", "--out", str(tmp_path / "y.npz")]
    assert main(argv) == 2
    assert (
        "have 3 node tags and --degree-features adds 2 columns, 5 in all, but the "
        "configuration's first layer takes 3" in capsys.readouterr().err
    )
    assert not (tmp_path / "y.npz").exists()


def test_degree_features_from_train_to_eval(tmp_path):
    data = tmp_path / "T"
    write_tudataset(data)
    weights = tmp_path / "w.npz"
    argv = ["train", "--data", str(data), "--epochs", "2", "--degree-features", "2"]
    assert main([*argv, "--out", str(weights)]) == 0
    loaded = load_weights(weights)
    assert (loaded.config.layer_dims[0], loaded.degree_features) == (5, 2)
    report = tmp_path / "r.json"
    argv = ["eval", "--data", str(data), "--weights", str(weights), "--json", str(report)]
    assert main(argv) == 0
    encoded = load_dataset(data).with_degree_features(2)
    pairs = [(g.adjacency, g.features) for g in encoded]
    classes = loaded.fixed_model().run_graphs(pairs).classes
    figures = json.loads(report.read_text())
    assert figures["accuracy"] == float(np.mean(classes == encoded.labels))
    assert (figures["degree_features"], figures["class_bias"]) == (2, [0, 0, 0])
