"""A small graph-classification dataset the project generates itself, so that every command and
test works without the shared benchmark data, and random graphs for the tests of other modules.
"""

from __future__ import annotations

import numpy as np

from golden.datasets import Graph, GraphDataset
from golden.validate import describe

__all__ = [
    "builtin_dataset",
    "cycle_rank",
    "random_graph",
    "random_graphs_within",
    "stratified_folds",
]

# Largest degree of a generated node, as for the carbon atoms of a molecule.
_MAX_DEGREE = 4
# Ring sizes of class 1, as in aromatic and heterocyclic compounds.
_RING_SIZES = (5, 6)
# Class 0: probability that a new node extends the chain instead of branching.
_CHAIN_PROBABILITY = 0.7


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, not {describe(value)}.")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, but it is {value}.")
    return int(value)


def cycle_rank(adjacency) -> int:
    """Return the number of independent cycles of a graph, ``edges - nodes + components``.

    Parameters
    ----------
    adjacency : array_like of shape (N, N) or Graph
        Treated as undirected: ``i`` and ``j`` are joined when either entry is nonzero.
        Self loops are ignored.

    Returns
    -------
    int
        0 for a forest, 1 for a single ring, and so on.
    """
    if isinstance(adjacency, Graph):
        adjacency = adjacency.adjacency
    matrix = np.asarray(adjacency) != 0
    matrix = matrix | matrix.T
    np.fill_diagonal(matrix, False)
    n_nodes = matrix.shape[0]
    n_edges = int(np.count_nonzero(np.triu(matrix)))

    # Connected components by repeated boolean reachability, one breadth-first front at a time.
    unvisited = np.ones(n_nodes, dtype=bool)
    components = 0
    while unvisited.any():
        front = np.zeros(n_nodes, dtype=bool)
        front[np.flatnonzero(unvisited)[0]] = True
        reached = front.copy()
        while front.any():
            front = matrix[front].any(axis=0) & ~reached
            reached |= front
        unvisited &= ~reached
        components += 1
    return n_edges - n_nodes + components


def random_graph(
    rng,
    n_nodes: int,
    density: float,
    n_features: int,
    *,
    n_isolated: int = 0,
    label: int = 0,
    name: str = "random",
) -> Graph:
    """Draw an undirected graph with random edges and random features in [0, 1].

    Parameters
    ----------
    rng : numpy.random.Generator or int
        Random source, or a seed for one.
    n_nodes : int
        Node count N (at least 1).
    density : float
        Probability of each undirected edge between two distinct nodes, in [0, 1].
    n_features : int
        Feature width F (at least 1).
    n_isolated : int
        Number of nodes, chosen at random, whose edges are removed.
    label : int
        Class label of the graph.
    name : str
        Name of the graph.

    Returns
    -------
    Graph
        Symmetric 0/1 adjacency without self loops, features uniform in [0, 1).
    """
    rng = np.random.default_rng(rng)
    n_nodes = _check_int("n_nodes", n_nodes, 1)
    n_features = _check_int("n_features", n_features, 1)
    n_isolated = _check_int("n_isolated", n_isolated, 0)
    if n_isolated > n_nodes:
        raise ValueError(f"n_isolated ({n_isolated}) must not exceed n_nodes ({n_nodes}).")
    if isinstance(density, bool) or not isinstance(density, (int, float, np.integer, np.floating)):
        raise TypeError(f"density must be a number in [0, 1], not {describe(density)}.")
    if not 0.0 <= density <= 1.0:
        raise ValueError(f"density must lie in [0, 1], but it is {density}.")

    upper = np.triu(rng.random((n_nodes, n_nodes)) < density, k=1)
    adjacency = (upper | upper.T).astype(np.int64)
    isolated = rng.choice(n_nodes, size=n_isolated, replace=False)
    adjacency[isolated, :] = 0
    adjacency[:, isolated] = 0
    features = rng.random((n_nodes, n_features))
    return Graph(adjacency, features, label, name)


def random_graphs_within(rng, count: int, max_nodes: int, max_edges: int, n_features: int):
    """Draw ``count`` random graphs that fit a core's limits.

    Node counts are uniform in 1 .. ``max_nodes`` and edge densities in 0.05 .. 0.5; a graph
    with more than ``max_edges`` directed edges is drawn again at half the density.

    Returns
    -------
    list of Graph
    """
    graphs = []
    for _ in range(count):
        nodes = int(rng.integers(1, max_nodes + 1))
        density = float(rng.uniform(0.05, 0.5))
        graph = random_graph(rng, nodes, density, n_features)
        while graph.n_edges > max_edges:
            density /= 2
            graph = random_graph(rng, nodes, density, n_features)
        graphs.append(graph)
    return graphs


def _attach(rng, degree: np.ndarray, candidates: np.ndarray) -> int:
    """Choose a node of ``candidates`` that can still take a bond."""
    free = candidates[degree[candidates] < _MAX_DEGREE]
    return int(rng.choice(free))


def _chain_tree(rng, n_nodes: int) -> list[tuple[int, int]]:
    """Class 0: a tree that mostly extends a chain, with occasional branches."""
    degree = np.zeros(n_nodes, dtype=np.int64)
    edges = []
    for node in range(1, n_nodes):
        if degree[node - 1] < _MAX_DEGREE and rng.random() < _CHAIN_PROBABILITY:
            parent = node - 1
        else:
            parent = _attach(rng, degree, np.arange(node))
        edges.append((parent, node))
        degree[[parent, node]] += 1
    return edges


def _ring_molecule(rng, n_nodes: int) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Class 1: one or more 5/6-rings, fused or bonded, with tree-shaped substituents.

    Returns the edges and a mask of the ring nodes.
    """
    degree = np.zeros(n_nodes, dtype=np.int64)
    in_ring = np.zeros(n_nodes, dtype=bool)
    edges: list[tuple[int, int]] = []

    def bond(a: int, b: int) -> None:
        edges.append((a, b))
        degree[[a, b]] += 1

    size = int(rng.choice([s for s in _RING_SIZES if s <= n_nodes]))
    for i in range(size):
        bond(i, (i + 1) % size)
    in_ring[:size] = True
    used = size

    # Further rings while they fit: fused on a ring bond (shares two atoms) or bonded to an atom.
    while used < n_nodes and rng.random() < 0.6:
        size = int(rng.choice(_RING_SIZES))
        ring_edges = [(a, b) for a, b in edges if in_ring[a] and in_ring[b]]
        fusable = [(a, b) for a, b in ring_edges if degree[a] < 3 and degree[b] < 3]
        if fusable and used + size - 2 <= n_nodes and rng.random() < 0.5:
            a, b = fusable[rng.integers(len(fusable))]
            path = [a, *range(used, used + size - 2), b]
            used += size - 2
        elif used + size <= n_nodes:
            anchor = _attach(rng, degree, np.arange(used))
            new = list(range(used, used + size))
            bond(anchor, new[0])
            path = [*new, new[0]]
            used += size
        else:
            break
        for a, b in zip(path[:-1], path[1:], strict=True):
            bond(a, b)
        in_ring[path] = True

    for node in range(used, n_nodes):
        bond(_attach(rng, degree, np.arange(node)), node)
    return edges, in_ring


def stratified_folds(labels, n_folds: int, rng) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Split graph indices into ``n_folds`` train/test pairs with every class spread evenly.

    Each class's indices are shuffled and dealt to the folds in turn, continuing from the fold
    where the previous class stopped, so fold sizes differ by at most one.

    Parameters
    ----------
    labels : array_like of int
        Class of each graph.
    n_folds : int
        Number of folds, at most the number of graphs.
    rng : numpy.random.Generator or int
        Random source, or a seed for one.

    Returns
    -------
    tuple of (train_idx, test_idx)
        Sorted int64 arrays; the test sets partition all indices.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(rng)
    n_folds = _check_int("n_folds", n_folds, 2)
    if n_folds > labels.size:
        raise ValueError(
            f"n_folds ({n_folds}) must not exceed the number of graphs ({labels.size})."
        )
    assignment = np.empty(labels.size, dtype=np.int64)
    offset = 0
    for value in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == value))
        assignment[members] = (offset + np.arange(members.size)) % n_folds
        offset += members.size
    everything = np.arange(labels.size)
    return tuple((everything[assignment != k], everything[assignment == k]) for k in range(n_folds))


def builtin_dataset(
    n_graphs: int = 60,
    seed: int = 0,
    max_nodes: int = 24,
    n_tags: int = 7,
    n_folds: int = 10,
) -> GraphDataset:
    """Generate a small two-class dataset of molecule-like graphs.

    Class 0 holds trees that mostly extend a chain (no cycles); class 1 holds graphs built
    around one or more 5- or 6-rings, fused or bonded, with tree-shaped substituents. Ring
    atoms carry tag 0 and other atoms a random tag 1 .. n_tags - 1, while class 0 draws every
    tag uniformly, so both the structure and the tag mix tell the classes apart. Graphs are
    undirected (symmetric adjacency), have no self loops and no node of degree above 4, and
    their node order is shuffled.

    Parameters
    ----------
    n_graphs : int
        Number of graphs, at least ``n_folds``; the classes differ in size by at most one.
    seed : int
        Seed of the random source; equal seeds give identical datasets.
    max_nodes : int
        Largest node count, at least 6. Node counts are drawn uniformly from
        4 .. max_nodes (class 0) and 5 .. max_nodes (class 1).
    n_tags : int
        Number of node tags, the one-hot feature width.
    n_folds : int
        Number of stratified cross-validation folds.

    Returns
    -------
    GraphDataset
        Named ``"builtin"``, with ``label_values`` (0, 1) and ``tag_values`` 0 .. n_tags - 1.
    """
    n_folds = _check_int("n_folds", n_folds, 2)
    n_graphs = _check_int("n_graphs", n_graphs, n_folds)
    seed = _check_int("seed", seed, 0)
    max_nodes = _check_int("max_nodes", max_nodes, 6)
    n_tags = _check_int("n_tags", n_tags, 1)
    rng = np.random.default_rng(seed)

    labels = rng.permutation(np.arange(n_graphs) % 2)
    eye = np.eye(n_tags)
    graphs = []
    for index, label in enumerate(labels):
        if label == 0:
            n_nodes = int(rng.integers(4, max_nodes + 1))
            edges = _chain_tree(rng, n_nodes)
            tags = rng.integers(0, n_tags, size=n_nodes)
        else:
            n_nodes = int(rng.integers(5, max_nodes + 1))
            edges, in_ring = _ring_molecule(rng, n_nodes)
            tags = np.where(in_ring, 0, rng.integers(min(1, n_tags - 1), n_tags, size=n_nodes))
        pairs = np.array(edges, dtype=np.int64).reshape(-1, 2)
        order = rng.permutation(n_nodes)
        pairs = order[pairs]
        adjacency = np.zeros((n_nodes, n_nodes), dtype=np.int64)
        adjacency[pairs[:, 0], pairs[:, 1]] = 1
        adjacency[pairs[:, 1], pairs[:, 0]] = 1
        features = np.zeros((n_nodes, n_tags))
        features[order] = eye[tags]
        graphs.append(Graph(adjacency, features, int(label), f"builtin[{index}]"))

    return GraphDataset(
        name="builtin",
        graphs=tuple(graphs),
        n_classes=2,
        n_tags=n_tags,
        label_values=(0, 1),
        folds=stratified_folds(labels, n_folds, rng),
        tag_values=tuple(range(n_tags)),
    )
