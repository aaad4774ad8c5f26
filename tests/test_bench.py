"""Tests of golden/bench.py: the benchmark's figures are consistent with each other (no timing
assertions, which would fail on a loaded machine).
"""

import math

import pytest

from golden.bench import format_benchmark, run_benchmark
from golden.builtin import builtin_dataset


@pytest.fixture(scope="module")
def five_graphs():
    return list(builtin_dataset(n_graphs=10, n_folds=2).graphs[:5])


def test_result_is_consistent(five_graphs):
    result = run_benchmark(five_graphs, repeats=1)
    assert result["graphs"] == 5
    assert result["repeats"] == 1
    assert result["layer_dims"] == [7, 32, 2]
    assert result["timesteps"] == 8
    for name in ("reference", "fixed"):
        entry = result[name]
        assert len(entry["seconds"]) == 1
        assert entry["median_seconds"] == entry["seconds"][0] > 0
        assert math.isclose(entry["graphs_per_second"], 5 / entry["median_seconds"])
    assert math.isclose(
        result["speedup"], result["reference"]["median_seconds"] / result["fixed"]["median_seconds"]
    )
    assert result["class_agreement"] in {0.0, 0.2, 0.4, 0.6, 0.8, 1.0}


def test_median_of_three_and_pairs(five_graphs):
    pairs = [(graph.adjacency, graph.features) for graph in five_graphs]
    result = run_benchmark(pairs, layer_dims=(7, 8, 3), T=4, repeats=3)
    assert result["layer_dims"] == [7, 8, 3]
    assert result["timesteps"] == 4
    for name in ("reference", "fixed"):
        seconds = result[name]["seconds"]
        assert len(seconds) == 3
        assert result[name]["median_seconds"] == sorted(seconds)[1]


def test_format_names_both_models(five_graphs):
    result = run_benchmark(five_graphs, repeats=1)
    text = format_benchmark(result)
    assert "5 graphs, layers [7, 32, 2], T 8, median of 1 runs" in text
    assert "float reference, graph by graph" in text
    assert "fixed-point golden, one batch" in text
    assert f"speed-up {result['speedup']:.1f}x" in text


def test_rejects_empty_and_bad_repeats(five_graphs):
    with pytest.raises(ValueError, match="graphs must hold at least one graph, but it is empty"):
        run_benchmark([])
    with pytest.raises(ValueError, match="repeats must be a positive integer, but it is 0"):
        run_benchmark(five_graphs, repeats=0)
