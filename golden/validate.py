"""Argument checks shared by the reference model, the fixed-point model and the command line.

Every check raises ``TypeError`` or ``ValueError`` with one sentence that names the argument, the
value received and what is allowed, so that the command line can print it as it is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "as_adjacency",
    "as_features",
    "check_layer_dims",
    "check_positive",
    "check_timesteps",
    "describe",
    "edges_to_adjacency",
]


def describe(value) -> str:
    """Return a short printable description of ``value`` for an error message."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _as_real_array(name: str, value) -> np.ndarray:
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a numeric array, not {describe(value)}.")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a numeric array, not {describe(value)}.") from error
    if array.dtype == bool:
        array = array.astype(np.int64)
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise TypeError(f"{name} must hold real numbers, not values of dtype {array.dtype}.")
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
        bad = array[~np.isfinite(array)].flat[0]
        raise ValueError(f"{name} must hold finite numbers, but it contains {bad}.")
    return array


def as_adjacency(adjacency, *, binary: bool = False, max_nodes: int | None = None) -> np.ndarray:
    """Check a dense adjacency matrix and return it as an array.

    Parameters
    ----------
    adjacency : array_like of shape (N, N)
        Row ``n`` lists the neighbours whose features node ``n`` aggregates.
    binary : bool
        Require every entry to be 0 or 1 (the fixed-point model and the gateware store edges,
        not weights).
    max_nodes : int, optional
        Largest node count allowed.

    Returns
    -------
    ndarray
        ``int64`` when ``binary`` is set, otherwise the input's numeric dtype.

    Raises
    ------
    TypeError
        If the value is not a numeric array.
    ValueError
        If it is not square, is empty, holds NaN or infinite values, is not 0/1 where
        ``binary`` is set, or has more nodes than ``max_nodes``.
    """
    array = _as_real_array("adjacency", adjacency)
    if array.ndim != 2 or array.shape[0] != array.shape[1]:
        raise ValueError(
            f"adjacency must be a square N x N matrix, but its shape is {array.shape}."
        )
    if array.shape[0] == 0:
        raise ValueError("adjacency must describe at least one node, but it is 0 x 0.")
    if binary:
        off = (array != 0) & (array != 1)
        if np.any(off):
            raise ValueError(
                f"adjacency must hold only 0 and 1 for the fixed-point model, "
                f"but it contains {array[off].flat[0]}."
            )
        array = array.astype(np.int64)
    if max_nodes is not None and array.shape[0] > max_nodes:
        raise ValueError(
            f"the graph has {array.shape[0]} nodes, more than the configured maximum of "
            f"{max_nodes} (max_nodes)."
        )
    return array


def as_features(
    node_features, n_nodes: int, in_features: int | None = None, *, unit_range: bool = False
) -> np.ndarray:
    """Check an N x F node-feature array against its graph and return it as floats.

    Parameters
    ----------
    node_features : array_like of shape (N, F)
        One row a node.
    n_nodes : int
        Node count of the adjacency the features belong to.
    in_features : int, optional
        Feature width the first layer expects.
    unit_range : bool
        Require every value to lie in [0, 1], as rate coding in fixed point does.

    Raises
    ------
    TypeError
        If the value is not a numeric array.
    ValueError
        If the shape does not match, or values are NaN, infinite or outside [0, 1].
    """
    array = _as_real_array("node_features", node_features).astype(np.float64)
    if array.ndim != 2:
        raise ValueError(
            f"node_features must be a 2-D N x F array, but its shape is {array.shape}."
        )
    if array.shape[0] != n_nodes:
        raise ValueError(
            f"node_features has {array.shape[0]} rows but the adjacency has {n_nodes} nodes; "
            "they must match."
        )
    if in_features is not None and array.shape[1] != in_features:
        raise ValueError(
            f"node_features has {array.shape[1]} columns but the first layer expects "
            f"{in_features} (layer_dims[0])."
        )
    if unit_range and array.size and (array.min() < 0.0 or array.max() > 1.0):
        bad = array[(array < 0.0) | (array > 1.0)].flat[0]
        raise ValueError(
            f"node_features must lie in [0, 1] for the fixed-point model, but it contains {bad}."
        )
    return array


def edges_to_adjacency(edges, n_nodes: int, *, directed: bool = False) -> np.ndarray:
    """Build a dense 0/1 adjacency matrix from an edge list.

    Parameters
    ----------
    edges : array_like of shape (E, 2)
        Pairs ``(target, source)``: node ``target`` aggregates node ``source``.
    n_nodes : int
        Node count; every index must be in ``0 .. n_nodes - 1``.
    directed : bool
        When false, every edge is also added in the other direction.

    Raises
    ------
    ValueError
        If the list is not E x 2, or an index is outside the graph.
    """
    if not isinstance(n_nodes, (int, np.integer)) or n_nodes < 1:
        raise ValueError(f"n_nodes must be a positive integer, not {describe(n_nodes)}.")
    pairs = _as_real_array("edges", edges)
    if pairs.size == 0:
        pairs = pairs.reshape(0, 2)
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise ValueError(
            f"edges must be an E x 2 list of node pairs, but its shape is {pairs.shape}."
        )
    if not np.all(pairs == np.round(pairs)):
        raise ValueError("edges must hold whole-number node indices.")
    pairs = pairs.astype(np.int64)
    if pairs.size and (pairs.min() < 0 or pairs.max() >= n_nodes):
        bad = pairs[(pairs < 0) | (pairs >= n_nodes)].flat[0]
        raise ValueError(
            f"edges names node {bad}, but the graph has nodes 0 to {n_nodes - 1} only."
        )
    adjacency = np.zeros((n_nodes, n_nodes), dtype=np.int64)
    adjacency[pairs[:, 0], pairs[:, 1]] = 1
    if not directed:
        adjacency[pairs[:, 1], pairs[:, 0]] = 1
    return adjacency


def check_layer_dims(layer_dims) -> tuple[int, ...]:
    """Check ``[in, hidden, ..., out]`` and return it as a tuple of ints."""
    if isinstance(layer_dims, (str, bytes)) or not isinstance(layer_dims, Sequence):
        raise TypeError(
            f"layer_dims must be a list of positive integers, not {describe(layer_dims)}."
        )
    if len(layer_dims) < 2:
        raise ValueError(
            f"layer_dims must name at least two sizes (input and output), "
            f"but it has {len(layer_dims)}: {list(layer_dims)}."
        )
    for size in layer_dims:
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(
                f"layer_dims must hold positive integers, but it contains {describe(size)}."
            )
    return tuple(int(size) for size in layer_dims)


def check_timesteps(T, name: str = "T") -> int:
    """Check the timestep count ``T`` (a positive integer, called ``name``) and return it."""
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)):
        raise TypeError(f"{name} must be a positive integer, not {describe(T)}.")
    if T < 1:
        raise ValueError(f"{name} must be at least 1, but it is {T}.")
    return int(T)


def check_positive(name: str, value) -> float:
    """Check that ``value`` is a finite number above zero and return it as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a positive number, not {describe(value)}.")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, but it is {value}.")
    return float(value)
