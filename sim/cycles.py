"""Cycle model of the core: the exact clock count of one inference, from the graph alone.

It mirrors the sequencer in :mod:`hdl.core` state by state; the testbenches check it against the
hardware's own counter on every graph.
"""

from __future__ import annotations

import numpy as np

from golden.config import CoreConfig
from hdl.mac import MACArray

__all__ = [
    "AGGREGATE_DRAIN",
    "LIF_DRAIN",
    "PROJECT_DRAIN",
    "lif_cycles",
    "fold_cycles",
    "lower_bound_cycles",
    "norm_load_cycles",
    "predict_cycles",
    "projection_busy",
]

#: Clocks from the last aggregation issue to its finished sum: edge read, feature read,
#: normalisation read, then ``MACArray.MAX_LATENCY`` (operand register, product register,
#: accumulate), which the core waits out with or without the product register.
AGGREGATE_DRAIN = 3 + MACArray.MAX_LATENCY
#: Clocks from the last projection issue to its finished sum: operand read, then the MAC
#: array's pipeline as above.
PROJECT_DRAIN = 1 + MACArray.MAX_LATENCY
#: Clocks from the last LIF step entering the multipliers to its finished update.
LIF_DRAIN = 2


def lif_cycles(config: CoreConfig, groups_out: int) -> int:
    """Clocks of a node's LIF phase: ``LIF_FETCH``, ``LIF_RUN`` and ``LIF_DRAIN``.

    One clock reads group 0's probabilities. Then the draws run one (group, timestep) a clock,
    and the lanes integrate two groups at a time, a timestep every other clock each, on the
    MAC array's multipliers: ``2 T`` clocks for each round of two groups. With two groups or
    more, integration starts ``T - 1`` clocks after the draws, when slot 1's first draw is in.
    """
    timesteps = config.timesteps
    wait = timesteps - 1 if groups_out > 1 else 0
    rounds = -(-groups_out // 2)
    return 1 + wait + 2 * timesteps * rounds + LIF_DRAIN


def node_cycles(config: CoreConfig, layer: int, degree: np.ndarray) -> np.ndarray:
    """Clocks the sequencer spends on each node of one layer.

    ``NODE_START``, ``NODE_READ`` and ``NODE_RECIP`` take one clock each; aggregation issues one
    neighbour word a clock (``degree * G_in``) and drains; isolated nodes skip it. Projection
    issues ``G_out * in`` products and drains; the LIF phase takes :func:`lif_cycles`;
    ``NODE_NEXT`` takes one.
    """
    width_in = config.layer_dims[layer]
    width_out = config.layer_dims[layer + 1]
    groups_in = config.groups(width_in)
    groups_out = config.groups(width_out)
    degree = np.asarray(degree, dtype=np.int64)
    aggregation = np.where(degree > 0, degree * groups_in + AGGREGATE_DRAIN, 0)
    projection = groups_out * width_in + PROJECT_DRAIN
    lif = lif_cycles(config, groups_out)
    return 3 + aggregation + projection + lif + 1


def norm_load_cycles(config: CoreConfig, layer: int) -> int:
    """Clocks of ``LAYER_NORM``: none for layer 0, else ``(T + 1)**2 + 1``.

    Every layer after the first writes the row ``cmax`` of the normalisation table into the
    two-lane lookup tables, one (count, count) pair a clock, plus one clock for the last write.
    """
    return 0 if layer == 0 else (config.timesteps + 1) ** 2 + 1


def fold_cycles(config: CoreConfig) -> int:
    """Clocks of ``LAYER_FOLD`` between two layers: the pipeline registers of the lane maximum.

    The maximum of a group's ``lanes`` counts is a tree of comparisons registered after every
    second level; each register past the first delays the layer's final ``cmax`` by a clock.
    """
    width, depth, registers = config.lanes, 0, 0
    while width > 1:
        depth += 1
        width = -(-width // 2)
        if depth % 2 == 0 and width > 1:
            registers += 1
    return registers


def predict_cycles(config: CoreConfig, adjacency) -> int:
    """Clock count the core reports for one inference on ``adjacency``.

    Counted from the clock after ``RUN`` is accepted to the clock the class is known: per layer
    one clock to reseed the LFSRs, :func:`norm_load_cycles` to load the normalisation row,
    every node, one to close the layer and, before the next layer, :func:`fold_cycles`; then
    one for the readout.
    """
    degree = np.asarray(adjacency).sum(axis=1)
    total = 1
    for layer in range(config.n_layers):
        nodes = int(node_cycles(config, layer, degree).sum())
        total += 1 + norm_load_cycles(config, layer) + nodes + 1
        if layer < config.n_layers - 1:
            total += fold_cycles(config)
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
