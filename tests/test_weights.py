"""Tests of the weights file: round trip, quantisation as the fixed model does it, and the error
for every way a file can be wrong."""

from __future__ import annotations

import json

import numpy as np
import pytest

from golden.config import CoreConfig
from golden.fixed import FixedPointModel
from golden.weights import (
    FORMAT_VERSION,
    WeightsFormatError,
    load_weights,
    save_weights,
    weights_summary,
)

CONFIG = CoreConfig(layer_dims=(3, 5, 2))


def float_weights(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 0.8, (3, 5)), rng.normal(0, 0.8, (5, 2))]


def rewrite(path, **changes):
    """Copy the archive at ``path`` with some entries replaced (None drops an entry)."""
    with np.load(path) as archive:
        arrays = {key: archive[key] for key in archive.files}
    for key, value in changes.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def test_round_trip_keeps_config_floats_and_metadata(tmp_path):
    weights = float_weights()
    meta = {"dataset": "toy", "fold": 3, "seed": 7, "test_accuracy": 0.875}
    path = save_weights(tmp_path / "w.npz", CONFIG, weights, metadata=meta)
    loaded = load_weights(path)
    assert loaded.config == CONFIG
    assert loaded.metadata == meta
    for saved, read in zip(weights, loaded.weights_float, strict=True):
        np.testing.assert_array_equal(read, saved)
    assert weights_summary(loaded) == (
        "layer_dims [3, 5, 2], dataset toy, fold 3, seed 7, test_accuracy 0.875"
    )


def test_quantised_weights_are_what_from_float_loads(tmp_path):
    weights = float_weights()
    weights[0][0, 0] = 5.0  # saturates at the largest weight
    weights[0][1, 0] = -0.5 / 64  # half an LSB below zero rounds up to 0
    loaded = load_weights(save_weights(tmp_path / "w.npz", CONFIG, weights))
    model = FixedPointModel.from_float(CONFIG, [w.T for w in weights])
    for read, expected in zip(loaded.weights_q, model.weights, strict=True):
        np.testing.assert_array_equal(read, expected)
    assert loaded.weights_q[0][0, 0] == 127
    assert loaded.weights_q[0][0, 1] == 0
    assert loaded.fixed_model().weights[1].shape == (2, 5)


def test_reference_network_uses_the_float_weights(tmp_path):
    weights = float_weights()
    loaded = load_weights(save_weights(tmp_path / "w.npz", CONFIG, weights))
    network = loaded.reference_network()
    np.testing.assert_array_equal(network.convs[1].W, weights[1].T)
    assert network.threshold == CONFIG.threshold and network.T == CONFIG.timesteps


def test_existing_file_is_kept_unless_overwrite(tmp_path):
    path = tmp_path / "w.npz"
    save_weights(path, CONFIG, float_weights(0))
    with pytest.raises(FileExistsError, match="already exists; pass overwrite=True"):
        save_weights(path, CONFIG, float_weights(1))
    np.testing.assert_array_equal(load_weights(path).weights_float[0], float_weights(0)[0])
    save_weights(path, CONFIG, float_weights(1), overwrite=True)
    np.testing.assert_array_equal(load_weights(path).weights_float[0], float_weights(1)[0])


def test_save_rejects_shapes_against_layer_dims(tmp_path):
    weights = float_weights()
    with pytest.raises(
        ValueError, match=r"weights_float\[1\] must have shape \(5, 2\) \(in, out\)"
    ):
        save_weights(tmp_path / "w.npz", CONFIG, [weights[0], weights[1].T])
    with pytest.raises(ValueError, match="must hold 2 matrices .* but it holds 1"):
        save_weights(tmp_path / "w.npz", CONFIG, weights[:1])
    with pytest.raises(ValueError, match="finite"):
        save_weights(tmp_path / "w.npz", CONFIG, [weights[0], weights[1] * np.nan])
    with pytest.raises(TypeError, match="JSON-serialisable"):
        save_weights(tmp_path / "w.npz", CONFIG, weights, metadata={"x": object()})
    assert not (tmp_path / "w.npz").exists()


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(WeightsFormatError, match=r"the weights file .*nope.npz does not exist"):
        load_weights(tmp_path / "nope.npz")


def test_not_an_archive_is_a_clear_error(tmp_path):
    path = tmp_path / "w.npz"
    path.write_text("hello")
    with pytest.raises(WeightsFormatError, match="is not a weights file"):
        load_weights(path)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format": np.array("other")}, "has format 'other', not 'spikegnn-weights'"),
        ({"version": np.array(FORMAT_VERSION + 1)}, "format version 2, but .* version 1 only"),
        ({"config": None}, "has no 'config' entry"),
        ({"config": np.array("{oops")}, "'config' entry .* is not valid JSON"),
        ({"config": np.array(json.dumps({"lanes": 0}))}, "configuration in .* is invalid: lanes"),
        ({"float_1": np.zeros((2, 5))}, r"float_1 .* must be a float \(5, 2\) \(in, out\)"),
        ({"quantised_0": np.zeros((3, 5), np.int16)}, r"quantised_0 .* integer \(5, 3\)"),
        ({"n_layers": np.array(3)}, "holds 3 layers"),
    ],
)
def test_wrong_entries_are_named(tmp_path, changes, message):
    path = save_weights(tmp_path / "w.npz", CONFIG, float_weights())
    rewrite(path, **changes)
    with pytest.raises(WeightsFormatError, match=message):
        load_weights(path)


def test_quantised_values_must_match_the_floats(tmp_path):
    path = save_weights(tmp_path / "w.npz", CONFIG, float_weights())
    with np.load(path) as archive:
        tampered = archive["quantised_1"].copy()
    tampered[0, 0] += 1
    tampered[1, 2] -= 1
    rewrite(path, quantised_1=tampered)
    with pytest.raises(WeightsFormatError, match="differs from float_1 quantised .* in 2 of 10"):
        load_weights(path)


def test_config_with_other_layer_dims_rejects_the_matrices(tmp_path):
    path = save_weights(tmp_path / "w.npz", CONFIG, float_weights())
    other = CoreConfig(layer_dims=(3, 6, 2)).to_dict()
    rewrite(path, config=np.array(json.dumps(other)))
    with pytest.raises(WeightsFormatError, match=r"float_0 .* \(3, 6\) .* layer_dims \[3, 6, 2\]"):
        load_weights(path)


def test_class_bias_round_trip_and_default(tmp_path):
    plain = load_weights(save_weights(tmp_path / "a.npz", CONFIG, float_weights()))
    np.testing.assert_array_equal(plain.class_bias, [0, 0])
    np.testing.assert_array_equal(plain.classify([[3, 3], [2, 5]]), [0, 1])
    path = save_weights(tmp_path / "b.npz", CONFIG, float_weights(), class_bias=[4, -4])
    biased = load_weights(path)
    np.testing.assert_array_equal(biased.class_bias, [4, -4])
    np.testing.assert_array_equal(biased.classify([[3, 3], [2, 10], [2, 11]]), [0, 0, 1])
    np.testing.assert_array_equal(biased.fixed_model().class_bias, [4, -4])
    with pytest.raises(TypeError, match="class_bias must hold integers"):
        save_weights(tmp_path / "c.npz", CONFIG, float_weights(), class_bias=[1.5, 0])
    with pytest.raises(ValueError, match=r"class_bias must lie in \[-128, 127\]"):
        save_weights(tmp_path / "c.npz", CONFIG, float_weights(), class_bias=[200, 0])
    rewrite(path, class_bias=np.array([1, 2, 3]))
    with pytest.raises(WeightsFormatError, match="class_bias of .* must be 2 integers"):
        load_weights(path)
    rewrite(path, class_bias=np.array([-129, 0]))
    with pytest.raises(WeightsFormatError, match=r"holds -129 to 0, outside .* \[-128, 127\]"):
        load_weights(path)


def test_degree_features_round_trip_and_encode(tmp_path):
    from golden.builtin import builtin_dataset

    config = CoreConfig(layer_dims=(5, 4, 2))
    weights = [np.full((5, 4), 0.25), np.full((4, 2), 0.5)]
    plain = load_weights(save_weights(tmp_path / "a.npz", config, weights))
    assert plain.degree_features == 0
    path = save_weights(tmp_path / "b.npz", config, weights, degree_features=2)
    loaded = load_weights(path)
    assert loaded.degree_features == 2
    assert "degree_features 2" in weights_summary(loaded)
    tags = builtin_dataset(n_graphs=10, n_tags=3)
    encoded = loaded.encode(tags)
    assert encoded.n_tags == 5
    np.testing.assert_array_equal(encoded[2].features[:, :3], tags[2].features)
    with pytest.raises(ValueError, match="have 5 node tags plus 2 degree columns, but .* takes 5"):
        loaded.encode(builtin_dataset(n_graphs=10, n_tags=5))
    with pytest.raises(ValueError, match="degree_features must be 0 to 4 .* but it is 5"):
        save_weights(tmp_path / "c.npz", config, weights, degree_features=5)
    rewrite(path, degree_features=np.array([1, 2]))
    with pytest.raises(WeightsFormatError, match="degree_features of .* must be one integer"):
        load_weights(path)
    rewrite(path, degree_features=np.array(7))
    with pytest.raises(WeightsFormatError, match="degree_features of .* is 7, but it must be 0 to"):
        load_weights(path)
