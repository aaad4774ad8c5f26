"""Tests of training: the rate model against the fixed-point LIF, determinism, learning on the
built-in dataset, errors, and the ``spikegnn train`` command."""

from __future__ import annotations

import numpy as np
import pytest

from golden.builtin import builtin_dataset
from golden.config import CoreConfig
from golden.fixed import FixedPointModel, encode_and_integrate
from golden.train import (
    TrainingUnavailableError,
    count_polynomial,
    monomial_coefficients,
    pattern_counts,
    train_network,
)
from golden.weights import load_weights
from sim.cli import main

CONFIG = CoreConfig()


@pytest.fixture(scope="module")
def small_dataset():
    return builtin_dataset(n_graphs=24, seed=3, max_nodes=10)


def test_pattern_counts_follow_the_lif_recurrence():
    table = pattern_counts(CONFIG)
    assert table.shape == (256,)
    # Default constants: three back-to-back input spikes reach the threshold, every spike at
    # most two output spikes in eight steps.
    assert table[0b111] == 1 and table[0b11] == 0 and table[0xFF] == 2
    assert table.max() == 2
    np.testing.assert_array_equal(count_polynomial(CONFIG), [0, 0, 0, 11, 70, 56, 42, 16, 2])


def test_expected_count_matches_the_fixed_model_with_lfsr_draws():
    # 4096 neurons of one node group, probabilities 0.25, 0.5, 0.75: the fixed model's mean
    # count with its LFSR draws must match the polynomial within sampling error.
    coefficients = monomial_coefficients(count_polynomial(CONFIG))
    draws = CONFIG.draws(3 * 4096 * CONFIG.timesteps).reshape(CONFIG.lanes, -1, CONFIG.timesteps)
    draws = draws.reshape(-1, 1, CONFIG.timesteps)[: 3 * 4096]
    for p in (0.25, 0.5, 0.75):
        probability = np.full((1, draws.shape[0], 1), round(p * CONFIG.probability_one))
        mean = encode_and_integrate(probability, draws, CONFIG).mean()
        assert mean == pytest.approx(np.polyval(coefficients[::-1], p), abs=0.03)


def test_training_is_deterministic_given_the_seed(small_dataset):
    first = train_network(CONFIG, small_dataset, seed=5, epochs=3, progress=False)
    second = train_network(CONFIG, small_dataset, seed=5, epochs=3, progress=False)
    other = train_network(CONFIG, small_dataset, seed=6, epochs=3, progress=False)
    for a, b in zip(first.weights_float, second.weights_float, strict=True):
        np.testing.assert_array_equal(a, b)
    assert first.losses == second.losses
    assert any(
        not np.array_equal(a, c)
        for a, c in zip(first.weights_float, other.weights_float, strict=True)
    )


def test_weights_lie_on_the_core_grid(small_dataset):
    result = train_network(CONFIG, small_dataset, seed=0, epochs=2, progress=False)
    for weight in result.weights_float:
        scaled = weight * (1 << CONFIG.weight_frac_bits)
        np.testing.assert_array_equal(scaled, np.round(scaled))
        assert scaled.min() >= CONFIG.weight_min and scaled.max() <= CONFIG.weight_max


def test_learns_the_builtin_dataset_above_chance():
    dataset = builtin_dataset(n_graphs=60, seed=0, max_nodes=16)
    result = train_network(CONFIG, dataset, seed=0, epochs=30, progress=False)
    assert np.mean(result.losses[-5:]) < 0.8 * np.mean(result.losses[:3])
    # The kept weights, run on the bit-exact model, classify most graphs right.
    model = FixedPointModel.from_float(CONFIG, [w.T for w in result.weights_float])
    classes = model.run_graphs([(g.adjacency, g.features) for g in dataset]).classes
    accuracy = float(np.mean(classes == dataset.labels))
    assert accuracy == pytest.approx(result.train_accuracy)
    assert accuracy >= 0.85
    assert all(rate > 0.05 for rate in result.firing_rates)


def test_dataset_must_suit_the_configuration(small_dataset):
    with pytest.raises(ValueError, match="have 7 node tags but .* first layer takes 5"):
        train_network(CoreConfig(layer_dims=(5, 8, 2)), small_dataset, epochs=1, progress=False)
    with pytest.raises(ValueError, match="epochs must be a positive integer, but it is 0"):
        train_network(CONFIG, small_dataset, epochs=0, progress=False)
    with pytest.raises(ValueError, match="at most 16 timesteps, .* timesteps = 20"):
        pattern_counts(CoreConfig(timesteps=20))


def test_missing_torch_names_the_extra(monkeypatch, small_dataset):
    monkeypatch.setitem(__import__("sys").modules, "torch", None)
    with pytest.raises(TrainingUnavailableError, match=r"pip install \.\[train\]"):
        train_network(CONFIG, small_dataset, epochs=1, progress=False)


def test_train_command_writes_weights_and_keeps_existing(tmp_path, capsys):
    data = tmp_path / "toy.txt"
    dataset = builtin_dataset(n_graphs=20, seed=1, max_nodes=8)
    lines = [str(len(dataset))]
    for graph in dataset:
        lines.append(f"{graph.n_nodes} {graph.label}")
        for node in range(graph.n_nodes):
            neighbours = np.flatnonzero(graph.adjacency[node])
            tag = int(np.argmax(graph.features[node]))
            lines.append(" ".join(map(str, [tag, len(neighbours), *neighbours])))
    data.write_text("\n".join(lines) + "\n")
    out = tmp_path / "w.npz"
    argv = ["train", "--data", str(data), "--epochs", "2", "--seed", "4", "--out", str(out)]
    assert main(argv) == 0
    written = load_weights(out)
    assert written.metadata["seed"] == 4 and written.metadata["epochs"] == 2
    assert "wrote" in capsys.readouterr().out
    before = out.read_bytes()
    assert main(argv) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert main([*argv[:-1], str(tmp_path / "other.npz"), "--fold", "3"]) == 2
    assert "fold 3 does not exist" in capsys.readouterr().err


def test_readout_bias_is_learnt_as_integers(small_dataset):
    first = train_network(
        CONFIG, small_dataset, seed=2, epochs=4, readout_bias=True, progress=False
    )
    again = train_network(
        CONFIG, small_dataset, seed=2, epochs=4, readout_bias=True, progress=False
    )
    assert first.class_bias.dtype == np.int64 and first.class_bias.shape == (2,)
    np.testing.assert_array_equal(first.class_bias, again.class_bias)
    assert train_network(CONFIG, small_dataset, epochs=1, progress=False).class_bias is None
