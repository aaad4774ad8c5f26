"""Cycle model of the core: the exact clock count of one inference, from the graph alone.

It mirrors the sequencer in :mod:`hdl.core` state by state; the testbenches check it against the
hardware's own counter on every graph.
"""

from __future__ import annotations

import numpy as np

from golden.config import CoreConfig

__all__ = [
    "AGGREGATE_DRAIN",
    "PROJECT_DRAIN",
    "lower_bound_cycles",
    "predict_cycles",
    "projection_busy",
]

#: Clocks from the last aggregation issue to its finished sum: edge read, feature read,
#: product, accumulate.
AGGREGATE_DRAIN = 4
#: Clocks from the last projection issue to its finished sum: operand read, product, accumulate.
PROJECT_DRAIN = 3


def node_cycles(config: CoreConfig, layer: int, degree: np.ndarray) -> np.ndarray:
    """Clocks the sequencer spends on each node of one layer.

    ``NODE_START``, ``NODE_READ`` and ``NODE_RECIP`` take one clock each; aggregation issues one
    neighbour word a clock (``degree * G_in``) and drains; isolated nodes skip it. Projection
    issues ``G_out * in`` products and drains; the LIF lanes fetch once and then run ``T``
    clocks a group; ``NODE_NEXT`` takes one.
    """
    width_in = config.layer_dims[layer]
    width_out = config.layer_dims[layer + 1]
    groups_in = config.groups(width_in)
    groups_out = config.groups(width_out)
    degree = np.asarray(degree, dtype=np.int64)
    aggregation = np.where(degree > 0, degree * groups_in + AGGREGATE_DRAIN, 0)
    projection = groups_out * width_in + PROJECT_DRAIN
    lif = 1 + groups_out * config.timesteps
    return 3 + aggregation + projection + lif + 1


def predict_cycles(config: CoreConfig, adjacency) -> int:
    """Clock count the core reports for one inference on ``adjacency``.

    Counted from the clock after ``RUN`` is accepted to the clock the class is known: per layer
    one clock to reseed the LFSRs, ``T + 2`` to load the normalisation row, every node, one to
    close the layer; then one for the readout.
    """
    degree = np.asarray(adjacency).sum(axis=1)
    total = 1
    for layer in range(config.n_layers):
        total += 1 + (config.timesteps + 2) + int(node_cycles(config, layer, degree).sum()) + 1
    return total


def lower_bound_cycles(config: CoreConfig, adjacency) -> int:
    """``ceil(multiply-accumulates / lanes)`` plus the LIF work, summed over layers.

    The multiply-accumulates are those of the aggregation (one a neighbour and input feature)
    and of the projection (one an input and output feature); the LIF work is ``T`` clocks for
    every ``lanes`` neurons.
    """
    adjacency = np.asarray(adjacency)
    nodes, edges = adjacency.shape[0], int(adjacency.sum())
    total = 0
    for width_in, width_out in zip(config.layer_dims[:-1], config.layer_dims[1:], strict=True):
        macs = edges * width_in + nodes * width_in * width_out
        total += -(-macs // config.lanes)
        total += -(-(nodes * width_out) // config.lanes) * config.timesteps
    return total


def projection_busy(config: CoreConfig, layer: int) -> float:
    """Fraction of the projection phase's clocks in which the MAC lanes multiply.

    A node's projection issues ``G_out * in`` products back to back (groups do not drain in
    between) and then waits ``PROJECT_DRAIN`` clocks for the last sum.
    """
    width_in = config.layer_dims[layer]
    issues = config.groups(config.layer_dims[layer + 1]) * width_in
    return issues / (issues + PROJECT_DRAIN)
