"""The ``spikegnn`` command line: generate Verilog, compare float, fixed point and RTL, benchmark.

Every command reports bad input as one sentence on standard error and exits with status 2;
``compare`` exits with status 1 when the hardware differs from the golden model.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from golden.config import ConfigError, CoreConfig
from golden.datasets import graph_pair

__all__ = ["main"]

logger = logging.getLogger("spikegnn")

#: Shipped weights ``spikegnn demo`` runs on MUTAG (``golden/weights/<name>.npz``).
DEMO_WEIGHTS = "mutag_degree"


class UsageError(ValueError):
    """A command-line argument that cannot be used."""


_TOOL_LOGGERS = ("Verilator", "Icarus", "cocotb_tools", "cocotb")


def _quiet_tools(record: logging.LogRecord) -> bool:
    """Drop the simulator runner's informational records (kept with ``--verbose``)."""
    quiet = record.name.split(".")[0] in _TOOL_LOGGERS and record.levelno < logging.WARNING
    return not quiet


def load_config(path: str | None) -> CoreConfig:
    """Return the configuration in ``path``, or the default one."""
    return CoreConfig.from_json(path) if path else CoreConfig()


def write_json(path: str | Path, data: dict) -> Path:
    """Write ``data`` as indented JSON to ``path`` (creating its folder) and say so."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    print(f"wrote {path}")
    return path


def seed_network(config: CoreConfig):
    """The reference model for ``config``: seed weights (layer i seeded 42 + i), same LIF."""
    from golden.reference import SpikeGNNLayer

    return SpikeGNNLayer(
        list(config.layer_dims),
        threshold=config.threshold,
        T=config.timesteps,
        tau_mem=config.tau_mem,
    )


def seed_weights(config: CoreConfig) -> list[np.ndarray]:
    """Float weights of :func:`seed_network`, one ``(out, in)`` matrix a layer."""
    return [conv.W for conv in seed_network(config).convs]


def select_graphs(args, config: CoreConfig) -> tuple[str, list[tuple[np.ndarray, np.ndarray]]]:
    """Return a name and ``(adjacency, features)`` pairs from ``--graphs``, ``--random`` or the
    built-in dataset."""
    from golden.builtin import builtin_dataset, random_graphs_within
    from golden.datasets import load_dataset

    if args.graphs:
        dataset = load_dataset(args.graphs)
        pairs = [graph_pair(g) for g in dataset]
        name = dataset.name
    elif args.random is not None:
        if args.random < 1:
            raise UsageError(f"--random must be a positive graph count, but it is {args.random}.")
        rng = np.random.default_rng(args.seed)
        graphs = random_graphs_within(
            rng, args.random, config.max_nodes, config.max_edges, config.layer_dims[0]
        )
        pairs = [(graph.adjacency, graph.features) for graph in graphs]
        name = f"random (seed {args.seed})"
    else:
        dataset = builtin_dataset(n_tags=config.layer_dims[0])
        pairs = [graph_pair(g) for g in dataset]
        name = dataset.name
    if args.limit:
        pairs = pairs[: args.limit]
    width = pairs[0][1].shape[1]
    if width != config.layer_dims[0]:
        raise UsageError(
            f"the graphs of {name} have {width} node features but the configuration's first "
            f"layer takes {config.layer_dims[0]}; use a configuration with layer_dims[0] = {width}."
        )
    return name, pairs


def command_verilog(args) -> int:
    """Write the core's Verilog for a configuration, built as the boards of one family build it."""
    from hdl.boards import core_style
    from hdl.generate import write_verilog

    config = load_config(args.config)
    output = Path(args.output)
    if output.exists() and output.is_dir():
        raise UsageError(f"-o must name a file, but {output} is a folder.")
    path = write_verilog(config, output, **core_style(args.family))
    print(f"wrote {path} (as the {args.family} boards build the core)")
    print(config.describe())
    return 0


def command_compare(args) -> int:
    """Run graphs through the float reference, the fixed-point model and the RTL simulation."""
    from golden.fixed import FixedPointModel
    from sim.cycles import lower_bound_cycles, predict_cycles
    from sim.runner import run_rtl

    config = load_config(args.config)
    name, pairs = select_graphs(args, config)
    reference = seed_network(config)
    model = FixedPointModel.from_float(config, [conv.W for conv in reference.convs])
    golden = model.run_graphs(pairs)
    float_classes = np.array([reference.graph_classify(f, a) for a, f in pairs])

    print(f"{len(pairs)} graphs from {name}; simulating the RTL on {args.sim} ...", flush=True)
    replies = run_rtl(
        config,
        model.weights,
        pairs,
        seed=args.seed,
        sim=args.sim,
        check=False,
        idle=args.idle,
        backpressure=args.backpressure,
    )
    mismatches = 0
    for index, ((adjacency, _), reply) in enumerate(zip(pairs, replies, strict=True)):
        expected = golden.graph_counts(index)
        wrong = []
        if not np.array_equal(reply.counts, expected):
            wrong.append("spike counts")
        if reply.klass != golden.classes[index]:
            wrong.append(f"class {reply.klass} != {golden.classes[index]}")
        if reply.cycles != predict_cycles(config, adjacency):
            wrong.append(f"cycles {reply.cycles} != {predict_cycles(config, adjacency)}")
        if wrong:
            mismatches += 1
            print(f"graph {index}: hardware differs from the golden model: {', '.join(wrong)}")
    cycles = [reply.cycles for reply in replies]
    bounds = [lower_bound_cycles(config, a) for a, _ in pairs]
    agreement = float(np.mean(np.array([r.klass for r in replies]) == float_classes))
    fixed_agreement = float(np.mean(golden.classes == float_classes))
    print(f"graphs                         {len(pairs)}")
    print(f"mismatches (RTL vs golden)     {mismatches}")
    print(f"class agreement RTL vs float   {agreement:.3f}")
    print(f"class agreement fixed vs float {fixed_agreement:.3f}")
    print(
        f"cycles per graph               median {int(np.median(cycles))}, "
        f"min {min(cycles)}, max {max(cycles)}"
    )
    print(
        f"lower bound (MACs/lanes + LIF) median {int(np.median(bounds))}; "
        f"ratio {np.median(np.array(cycles) / np.array(bounds)):.2f}"
    )
    if args.json:
        report = {
            "graphs": len(pairs),
            "mismatches": mismatches,
            "simulator": args.sim,
            "cycles": cycles,
            "lower_bound_cycles": bounds,
            "class_agreement_with_float": agreement,
            "dataset": name,
            "config": config.to_dict(),
        }
        write_json(args.json, report)
    return 1 if mismatches else 0


def command_bench(args) -> int:
    """Time the reference and fixed-point golden models."""
    from golden.bench import default_graphs, format_benchmark, run_benchmark

    name, graphs = default_graphs()
    print(f"{len(graphs)} graphs from {name}, layers 7-32-2, T = 8, {args.repeats} repeats")
    print(format_benchmark(run_benchmark(graphs, repeats=args.repeats)))
    return 0


def command_deviation(args) -> int:
    """Measure the fixed-point model's firing-rate deviation from the float model."""
    from golden.bench import default_graphs
    from golden.deviation import measure_deviation

    config = load_config(args.config)
    name, graphs = default_graphs()
    print(f"{len(graphs)} graphs from {name}, {args.streams} random streams per model")
    report = measure_deviation(config, seed_weights(config), graphs, n_streams=args.streams)
    print(report.format())
    return 0


def command_cycles(args) -> int:
    """Print the cycle model's figures for a dataset: cycles per graph and MAC utilisation."""
    from golden.bench import default_graphs
    from sim.cycles import lower_bound_cycles, predict_cycles, projection_busy

    config = load_config(args.config)
    name, graphs = default_graphs()
    cycles = np.array([predict_cycles(config, g.adjacency) for g in graphs])
    bounds = np.array([lower_bound_cycles(config, g.adjacency) for g in graphs])
    print(f"{len(graphs)} graphs from {name}; {config.describe().splitlines()[0]}")
    print(f"cycles per graph: median {int(np.median(cycles))}, mean {cycles.mean():.0f}")
    print(f"lower bound:      median {int(np.median(bounds))}")
    print(f"ratio:            median {np.median(cycles / bounds):.2f}")
    for layer in range(config.n_layers):
        print(f"MAC lanes busy in projection, layer {layer}: {projection_busy(config, layer):.1%}")
    return 0


def command_synth(args) -> int:
    """Build a board's bitstream, print its figures and optionally write them as JSON."""
    from hdl.boards import BOARDS
    from hdl.synth import SynthesisError, ToolchainError, format_report_table, synthesize

    if args.board not in BOARDS:
        raise UsageError(f"--board {args.board!r} is not a known board; use one of {list(BOARDS)}")
    config = load_config(args.config)
    build_dir = Path(args.build_dir) if args.build_dir else Path("build") / args.board
    try:
        report = synthesize(config, args.board, build_dir, args.clock_mhz, seed=args.seed)
    except (ToolchainError, SynthesisError) as error:
        lines = str(error).splitlines()
        raise UsageError(lines[0] if lines else str(error)) from None
    print(format_report_table([report]))
    if args.json:
        figures = {key: value for key, value in report.items() if key not in ("clocks", "cells")}
        write_json(args.json, figures)
    if not report["timing_met"]:
        print(
            f"timing not met: Fmax {report['fmax_mhz']:.2f} MHz is below the "
            f"{report['clock_mhz']:.2f} MHz clock",
            file=sys.stderr,
        )
        return 1
    return 0


def command_check(args) -> int:
    """Print a configuration's derived formats and whether its threshold can be reached."""
    config = load_config(args.config)
    print(config.describe())
    if config.threshold_reachable:
        print(
            f"threshold reachable: the membrane reaches {config.membrane_reachable} "
            f">= {config.threshold_q} within T = {config.timesteps}"
        )
        return 0
    print(
        f"threshold unreachable: the membrane never passes {config.membrane_reachable} in "
        f"T = {config.timesteps} timesteps, below the threshold {config.threshold_q}; "
        "no neuron can ever spike"
    )
    return 1


def _training_config(args, dataset) -> CoreConfig:
    """The configuration ``train`` and ``crossval`` use for a dataset of node tags.

    ``--config`` is taken as given and must take the tags plus ``--degree-features`` columns;
    without it, the default configuration is sized to the data: ``layer_dims[0]`` the tags plus
    the degree columns, ``layer_dims[-1]`` the classes.
    """
    if args.degree_features < 0:
        raise UsageError(
            f"--degree-features must be 0 or a positive number, but it is {args.degree_features}."
        )
    width = dataset.n_tags + args.degree_features
    if args.config is None:
        default = CoreConfig()
        dims = (width, *default.layer_dims[1:-1], max(dataset.n_classes, 2))
        return replace(default, layer_dims=dims)
    config = load_config(args.config)
    if width != config.layer_dims[0]:
        raise UsageError(
            f"the graphs of {dataset.name} have {dataset.n_tags} node tags and "
            f"--degree-features adds {args.degree_features} columns, {width} in all, but the "
            f"configuration's first layer takes {config.layer_dims[0]}; use a configuration "
            f"with layer_dims[0] = {width}."
        )
    return config


def _fold_indices(args, dataset):
    """All graph indices, or with ``--fold K`` fold K's training and test indices."""
    if args.fold is None:
        return np.arange(len(dataset)), None
    dataset.fold(args.fold)  # names the existing folds when K is not one of them
    return dataset.folds[args.fold - 1]


def command_train(args) -> int:
    """Train the core's network on a dataset (or one fold's training graphs) and save it."""
    from golden.datasets import load_dataset
    from golden.evaluate import evaluate
    from golden.train import TrainingUnavailableError, train_network
    from golden.weights import load_weights, save_weights

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise UsageError(f"the weights file {out} already exists; pass --overwrite to replace it.")
    if args.epochs is not None and args.epochs < 1:
        raise UsageError(f"--epochs must be a positive number, but it is {args.epochs}.")
    dataset = load_dataset(args.data)
    config = _training_config(args, dataset)
    train, test = _fold_indices(args, dataset)
    encoded = dataset.with_degree_features(args.degree_features)
    print(
        f"training on {len(train)} graphs of {dataset.name} (fold {args.fold}), seed {args.seed}, "
        f"layer_dims {list(config.layer_dims)}, {args.degree_features} degree columns"
    )
    options = {} if args.epochs is None else {"epochs": args.epochs}
    try:
        result = train_network(
            config,
            encoded.subset(train),
            seed=args.seed,
            readout_bias=args.readout_bias,
            **options,
        )
    except TrainingUnavailableError as error:
        raise UsageError(str(error)) from None
    metadata = {
        "dataset": dataset.name,
        "fold": args.fold,
        "seed": args.seed,
        "epochs": len(result.losses),
        "best_epoch": result.best_epoch,
        "train_accuracy": result.train_accuracy,
        "train_firing_rates": result.firing_rates,
    }
    bias = result.class_bias
    save_weights(
        out,
        config,
        result.weights_float,
        metadata=metadata,
        overwrite=args.overwrite,
        class_bias=bias,
        degree_features=args.degree_features,
    )
    print(f"loss {result.losses[0]:.4f} -> {result.losses[-1]:.4f}; kept epoch {result.best_epoch}")
    print(f"fixed-point training accuracy {result.train_accuracy:.4f}")
    if bias is not None:
        print(f"readout class bias {bias.tolist()}")
    rates = [round(r, 3) for r in result.firing_rates]
    print(f"firing rates per layer (spikes per neuron) {rates}")
    if test is not None:
        evaluation = evaluate(load_weights(out), dataset, "fixed", indices=test, skip_oversize=True)
        metadata["test_accuracy"] = evaluation.accuracy
        save_weights(
            out,
            config,
            result.weights_float,
            metadata=metadata,
            overwrite=True,
            class_bias=bias,
            degree_features=args.degree_features,
        )
        print(f"fold {args.fold} test graphs, {evaluation.summary()}")
    print(f"wrote {out}")
    return 0


def command_eval(args) -> int:
    """Classify a dataset with trained weights on one backend and print the accuracy."""
    from golden.datasets import load_dataset
    from golden.evaluate import evaluate
    from golden.weights import load_weights

    weights = load_weights(args.weights)
    dataset = load_dataset(args.data)
    _, test = _fold_indices(args, dataset)
    indices = None if test is None else test
    evaluation = evaluate(
        weights,
        dataset,
        args.backend,
        indices=indices,
        skip_oversize=args.skip_oversize,
        sim=args.sim,
        seed=args.seed,
    )
    where = "all graphs" if test is None else f"fold {args.fold} test graphs"
    print(f"{dataset.name}, {where}, weights {args.weights}")
    print(evaluation.summary())
    if args.json:
        report = {
            "dataset": dataset.name,
            "fold": args.fold,
            "weights": str(args.weights),
            "degree_features": weights.degree_features,
            "class_bias": weights.class_bias.tolist(),
        }
        report.update(evaluation.to_dict())
        write_json(args.json, report)
    return 1 if evaluation.mismatches else 0


def command_crossval(args) -> int:
    """Train and measure every fold of a dataset's cross-validation; print the table."""
    from golden.datasets import load_dataset
    from golden.evaluate import BACKENDS, cross_validate, format_crossval
    from golden.train import TrainingUnavailableError

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown or not backends:
        raise UsageError(
            f"--backends must list some of {', '.join(BACKENDS)}, but it is {args.backends!r}."
        )
    dataset = load_dataset(args.data)
    config = _training_config(args, dataset)
    try:
        report = cross_validate(
            dataset,
            config,
            args.out_dir,
            backends=backends,
            folds=args.folds,
            seed=args.seed,
            epochs=args.epochs,
            overwrite=args.overwrite,
            reuse=args.reuse,
            readout_bias=args.readout_bias,
            degree_features=args.degree_features,
            sim=args.sim,
        )
    except (TrainingUnavailableError, FileExistsError) as error:
        raise UsageError(str(error)) from None
    print(
        f"{dataset.name}: {len(report['folds'])} folds, seed {args.seed}, layer_dims "
        f"{list(config.layer_dims)}, {args.degree_features} degree columns, test-fold accuracy"
    )
    print(format_crossval(report))
    for backend, stats in report["summary"].items():
        print(f"{backend:>6}: {100 * stats['mean']:.1f} +- {100 * stats['std']:.1f} %")
    mismatches = sum(row["rtl"]["mismatches"] for row in report["folds"] if "rtl" in row)
    if "rtl" in report["summary"]:
        print(f"RTL graphs differing from the fixed-point model: {mismatches}")
    print(f"wrote {Path(args.out_dir) / 'results.json'}")
    return 1 if mismatches else 0


def command_demo(args) -> int:
    """Run the golden models, and the RTL on a few graphs: the trained MUTAG weights on MUTAG
    when the shared benchmark data is there, the seed weights on the built-in dataset if not."""
    from golden.builtin import builtin_dataset
    from golden.datasets import load_dataset, mutag_path
    from golden.evaluate import float_run
    from golden.fixed import FixedPointModel
    from golden.weights import load_weights, packaged_weights_path

    config = CoreConfig()
    trained = packaged_weights_path(DEMO_WEIGHTS)
    if mutag_path().is_dir() and trained.is_file():
        weights = load_weights(trained)
        config = weights.config
        dataset = weights.encode(load_dataset(mutag_path()))
        reference = weights.reference_network()
        source = f"trained weights {trained.name}"
        print(f"spikegnn demo: the configuration of the trained weights {trained.name}")
        print(
            f"  input: {dataset.n_tags - weights.degree_features} node tags and "
            f"{weights.degree_features} one-hot degree columns; readout class bias "
            f"{weights.class_bias.tolist()}"
        )
    else:
        weights = None
        dataset = builtin_dataset(n_tags=config.layer_dims[0])
        reference = seed_network(config)
        source = "seed weights"
        print("spikegnn demo: the default core configuration")
    print("  " + config.describe().replace("\n", "\n  "))
    pairs = [graph_pair(g) for g in dataset]
    print(f"\n{dataset.name} dataset: {len(dataset)} graphs, {dataset.n_classes} classes")

    if weights is None:
        model = FixedPointModel.from_float(config, [conv.W for conv in reference.convs])
        float_classes = np.array([reference.graph_classify(f, a) for a, f in pairs])
    else:
        model = weights.fixed_model()
        float_classes = float_run(weights, pairs)[0]
    result = model.run_graphs(pairs)
    fixed_classes = result.classes
    print(
        f"\nfloat reference ({source}, threshold "
        f"{config.threshold}, tau {config.tau_mem}, T {config.timesteps}):"
    )
    print(f"  classes predicted: {np.bincount(float_classes, minlength=2).tolist()} per class")
    print(f"  accuracy: {np.mean(float_classes == dataset.labels):.3f}")
    print("fixed-point golden model:")
    print(f"  classes predicted: {np.bincount(fixed_classes, minlength=2).tolist()} per class")
    print(f"  accuracy: {np.mean(fixed_classes == dataset.labels):.3f}")
    print(f"  firing rates per layer: {[round(r, 3) for r in result.firing_rates()]}")
    print(f"  class agreement with float: {np.mean(fixed_classes == float_classes):.3f}")
    print(f"  graph 0 last-layer spike counts (node x class):\n{result.graph_counts(0).T}")

    if args.no_rtl:
        return 0
    from sim.cycles import predict_cycles
    from sim.runner import run_rtl

    count = min(args.rtl_graphs, len(pairs))
    print(f"\nRTL simulation ({args.sim}) of the first {count} graphs ...", flush=True)
    replies = run_rtl(
        config,
        model.weights,
        pairs[:count],
        seed=1,
        sim=args.sim,
        check=False,
        class_bias=model.class_bias,
    )
    same = 0
    for index, reply in enumerate(replies):
        equal = (
            np.array_equal(reply.counts, result.graph_counts(index))
            and reply.klass == result.classes[index]
        )
        same += equal
        print(
            f"  graph {index}: class {reply.klass}, {reply.cycles} cycles "
            f"(model {predict_cycles(config, pairs[index][0])}), "
            f"{'equals' if equal else 'DIFFERS FROM'} the golden model"
        )
    print(f"  {same} of {count} graphs equal the golden model bit for bit")
    return 0 if same == count else 1


def command_run(args) -> int:
    """Run graphs on a board over its serial port and print each class and its spike counts."""
    from golden.datasets import load_dataset
    from golden.weights import load_weights
    from sim.host import SpikeGNNBoard

    weights = load_weights(args.weights)
    config = weights.config
    dataset = weights.encode(load_dataset(args.graph))
    golden = weights.fixed_model()
    results = []
    with SpikeGNNBoard(args.port, config, baud=args.baud, timeout=args.timeout) as board:
        identity = board.identity
        print(
            f"board on {args.port}: configuration hash {identity.config_hash:#06x}, "
            f"design version {identity.version:#06x}"
        )
        board.load_weights(weights.weights_q, weights.class_bias)
        for index, graph in enumerate(dataset):
            adjacency, features = graph_pair(graph)
            result = board.infer(adjacency, features)
            expected = golden.run_graphs([(adjacency, features)])
            same = bool(
                np.array_equal(result.counts, expected.graph_counts(0))
                and result.klass == expected.classes[0]
            )
            sums = result.class_counts.tolist()
            line = (
                f"graph {index}: class {result.klass}, spike counts per class {sums}, "
                f"{result.cycles} cycles, {'equals' if same else 'DIFFERS FROM'} the golden model"
            )
            entry = {
                "graph": index,
                "class": result.klass,
                "class_counts": sums,
                "counts": result.counts.tolist(),
                "cycles": result.cycles,
                "golden_equal": same,
            }
            print(line)
            results.append(entry)
    if args.json:
        report = {"port": args.port, "config_hash": config.config_hash, "graphs": results}
        write_json(args.json, report)
    return 0 if all(entry["golden_equal"] for entry in results) else 1


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``spikegnn``."""
    parser = argparse.ArgumentParser(
        prog="spikegnn", description="Spiking graph neural networks on open FPGAs."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    commands = parser.add_subparsers(dest="command", required=True)

    def with_config(sub):
        sub.add_argument("--config", metavar="FILE", help="configuration JSON (default: built-in)")

    def with_training(sub):
        sub.add_argument("--seed", type=int, default=0, help="initialisation and spike sampling")
        sub.add_argument("--epochs", type=int, metavar="E", help="passes over the training graphs")
        sub.add_argument(
            "--readout-bias",
            action="store_true",
            help="also learn a class bias for the core's readout",
        )
        sub.add_argument(
            "--degree-features",
            type=int,
            default=0,
            metavar="D",
            help="append D one-hot degree columns to the node tags (default 0)",
        )

    def with_sim(sub):
        sub.add_argument(
            "--sim",
            choices=["verilator", "icarus"],
            default=None,
            help="RTL simulator (default: $SIM or verilator)",
        )

    demo = commands.add_parser("demo", help="golden models and RTL, trained weights on MUTAG")
    demo.add_argument("--no-rtl", action="store_true", help="skip the RTL simulation")
    demo.add_argument("--rtl-graphs", type=int, default=6, metavar="N")
    with_sim(demo)
    demo.set_defaults(run=command_demo)

    verilog = commands.add_parser("verilog", help="write the core's Verilog")
    with_config(verilog)
    verilog.add_argument("-o", "--output", default="build/verilog/spikegnn_core.v", metavar="PATH")
    verilog.add_argument(
        "--family",
        choices=["ice40", "ecp5"],
        default="ice40",
        help="FPGA family whose boards' core to write: block RAM (ice40) or LUT RAM and MAC "
        "product registers (ecp5)",
    )
    verilog.set_defaults(run=command_verilog)

    compare = commands.add_parser("compare", help="float vs fixed point vs RTL")
    with_config(compare)
    with_sim(compare)
    source = compare.add_mutually_exclusive_group()
    source.add_argument("--graphs", metavar="PATH", help="dataset file or folder")
    source.add_argument("--random", type=int, metavar="N", help="N random graphs")
    source.add_argument("--builtin", action="store_true", help="the built-in dataset (default)")
    compare.add_argument("--seed", type=int, default=0, help="random graphs and stall patterns")
    compare.add_argument("--limit", type=int, default=0, metavar="N", help="first N graphs only")
    compare.add_argument("--idle", type=float, default=0.2, help="host idle probability")
    compare.add_argument("--backpressure", type=float, default=0.2, help="reply stall probability")
    compare.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    compare.set_defaults(run=command_compare)

    bench = commands.add_parser("bench", help="golden-model throughput")
    bench.add_argument("--repeats", type=int, default=7)
    bench.set_defaults(run=command_bench)

    deviation = commands.add_parser("deviation", help="fixed-point vs float firing rates")
    with_config(deviation)
    deviation.add_argument("--streams", type=int, default=64)
    deviation.set_defaults(run=command_deviation)

    cycles = commands.add_parser("cycles", help="cycle model figures on MUTAG or built-in data")
    with_config(cycles)
    cycles.set_defaults(run=command_cycles)

    synth = commands.add_parser("synth", help="bitstream and size/timing report for a board")
    with_config(synth)
    synth.add_argument("--board", required=True, help="icebreaker, ulx3s, icesugar or orangecrab")
    synth.add_argument("--clock-mhz", type=float, help="core clock (default: the board's)")
    synth.add_argument("--seed", type=int, help="nextpnr placement seed (default: the board's)")
    synth.add_argument("--build-dir", metavar="DIR", help="output folder (default build/BOARD)")
    synth.add_argument("--json", metavar="PATH", help="write the report as JSON")
    synth.set_defaults(run=command_synth)

    train = commands.add_parser("train", help="train the network on a dataset, save weights")
    with_config(train)
    train.add_argument("--data", required=True, metavar="DIR", help="dataset file or folder")
    train.add_argument("--fold", type=int, metavar="K", help="train on fold K's training graphs")
    with_training(train)
    train.add_argument("--out", required=True, metavar="WEIGHTS", help="weights file to write")
    train.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    train.set_defaults(run=command_train)

    evaluate = commands.add_parser("eval", help="accuracy of trained weights on one backend")
    with_sim(evaluate)
    evaluate.add_argument("--data", required=True, metavar="DIR", help="dataset file or folder")
    evaluate.add_argument("--weights", required=True, metavar="WEIGHTS", help="weights file")
    evaluate.add_argument("--backend", choices=["float", "fixed", "rtl"], default="fixed")
    evaluate.add_argument("--fold", type=int, metavar="K", help="fold K's test graphs only")
    evaluate.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    evaluate.add_argument(
        "--skip-oversize", action="store_true", help="skip graphs over the core's limits"
    )
    evaluate.add_argument("--seed", type=int, default=0, help="RTL idle and stall patterns")
    evaluate.set_defaults(run=command_eval)

    crossval = commands.add_parser("crossval", help="train and measure every fold of a dataset")
    with_config(crossval)
    with_sim(crossval)
    crossval.add_argument("--data", required=True, metavar="DIR", help="dataset folder")
    crossval.add_argument("--out-dir", default="build/crossval", metavar="DIR")
    crossval.add_argument("--backends", default="float,fixed,rtl", help="comma-separated list")
    crossval.add_argument("--folds", type=int, nargs="+", metavar="K", help="default: all")
    with_training(crossval)
    reuse = crossval.add_mutually_exclusive_group()
    reuse.add_argument("--overwrite", action="store_true", help="train every fold again")
    reuse.add_argument("--reuse", action="store_true", help="measure saved fold weights")
    crossval.set_defaults(run=command_crossval)

    check = commands.add_parser("check-config", help="derived formats and threshold check")
    with_config(check)
    check.set_defaults(run=command_check)
    board_run = commands.add_parser("run", help="run graphs on a board over its serial port")
    board_run.add_argument("--port", required=True, help="the board's serial port")
    board_run.add_argument("--graph", required=True, metavar="FILE", help="graph text file")
    board_run.add_argument("--weights", required=True, metavar="FILE", help="weights file")
    board_run.add_argument("--baud", type=int, default=115200, help="UART bit rate")
    board_run.add_argument("--timeout", type=float, default=2.0, help="seconds to wait a reply")
    board_run.add_argument("--json", metavar="PATH", help="write the results as JSON")
    board_run.set_defaults(run=command_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        # cocotb's runner logs every tool command at INFO level through its own loggers, and
        # sets their level itself when it is made: filter at the handlers instead.
        for handler in logging.getLogger().handlers:
            handler.addFilter(_quiet_tools)
    if getattr(args, "sim", "unset") is None:
        import os

        args.sim = os.environ.get("SIM", "verilator")
    from golden.datasets import DatasetFormatError
    from sim.host import BoardError
    from sim.runner import SimulatorNotFoundError

    try:
        return args.run(args)
    except (ConfigError, DatasetFormatError, UsageError, SimulatorNotFoundError) as error:
        print(f"spikegnn: error: {error}", file=sys.stderr)
        return 2
    except BoardError as error:
        print(f"spikegnn: error: {error}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, FileNotFoundError) as error:
        print(f"spikegnn: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
