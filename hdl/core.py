"""The spike GNN core: graph, weight and feature memories, the MAC array, the encoders, the LIF
lanes and the sequencer that runs every layer and reads out the class.

``docs/architecture.md`` walks through the schedule; ``docs/protocol.md`` the host words;
:mod:`golden.fixed` states the arithmetic and :mod:`sim.cycles` the cycle count.
"""

from __future__ import annotations

from amaranth import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.config import CoreConfig

from .commands import DESIGN_VERSION, Opcode, Status, opcode_shift, status_shift
from .encoder import LFSR
from .lif import LIFLane
from .mac import MACArray, constant_product

__all__ = ["SpikeGNNCore"]


def _bits(value: int) -> int:
    return max(1, int(value).bit_length())


def _next_lane(m: Module, lane: Signal, group: Signal, lanes: int):
    """Step a (group, lane) feature counter by one lane; return the "lane wraps" condition."""
    wraps = lane == lanes - 1
    with m.If(wraps):
        m.d.sync += [lane.eq(0), group.eq(group + 1)]
    with m.Else():
        m.d.sync += lane.eq(lane + 1)
    return wraps


class SpikeGNNCore(wiring.Component):
    """Multi-layer spike GNN in fixed point, driven by a command stream.

    Parameters
    ----------
    config : CoreConfig
        Every width, constant and limit; the golden model reads the same object.
    memory_style : {"block", "distributed"}
        How synthesis builds the core's memories. ``"block"`` (the default) asks for block RAM
        where Yosys would otherwise use flip-flops and leaves the rest to it: the right choice
        where logic is scarce (iCE40). ``"distributed"`` asks for LUT RAM everywhere, with the
        read registers in the fabric: it spends logic cells (plenty on the ECP5) to avoid the
        block RAM's slow clock-to-output, which starts the core's longest paths otherwise; there
        the edge memory is read asynchronously into a register of the core, so that the feature
        memory's read address comes from flip-flops alone. The behaviour, cycle for cycle, is
        the same (the RTL tests simulate both styles).
    product_register : bool
        A register after each MAC multiplier (:class:`hdl.mac.MACArray`): off (the default)
        lets the iCE40 ``SB_MAC16`` hold the whole MAC lane, whose sum register doubles as the
        product register; on cuts the ECP5's path from the operand register through the
        ``MULT18X18D`` and the accumulator in two. The core waits for a sum the same number of
        clocks either way, so the cycle count (:mod:`sim.cycles`) does not depend on it.

    Attributes
    ----------
    i_cmd : In(stream.Signature(word_width))
        Commands and their data words (``docs/protocol.md``).
    o_reply : Out(stream.Signature(word_width))
        Status words and results.
    busy : Out(1)
        High from an accepted ``RUN`` until its class is known.

    Notes
    -----
    Limitations: one graph at a time, with at most ``max_nodes`` nodes and ``max_edges``
    directed edges; the class readout covers the last layer only, and the per-node counts
    of hidden layers are not returned. The class bias, loaded after the weights, lies in the
    weight format's range. The sequencer's state register asks synthesis for one-hot encoding,
    which drops its initial value: hold ``rst`` high for at least one clock before the first
    command (the board tops do so at power-up; simulation starts in ``IDLE`` either way).
    """

    MEMORY_STYLES = ("block", "distributed")

    def __init__(
        self, config: CoreConfig, memory_style: str = "block", product_register: bool = False
    ):
        if memory_style not in self.MEMORY_STYLES:
            self._MustUse__silence = True  # never built: no "created but never used" warning
            raise ValueError(
                f"memory_style must be one of {', '.join(self.MEMORY_STYLES)}, "
                f"not {memory_style!r}."
            )
        self.config = config
        self.memory_style = memory_style
        self.product_register = bool(product_register)
        super().__init__(
            {
                "i_cmd": In(stream.Signature(config.word_width)),
                "o_reply": Out(stream.Signature(config.word_width)),
                "busy": Out(1),
            }
        )

    def elaborate(self, platform):  # noqa: C901 - one sequencer, one method
        m = Module()
        cfg = self.config
        lanes = cfg.lanes
        T = cfg.timesteps
        word_width = cfg.word_width
        arg_width = word_width - 4
        n_layers = cfg.n_layers
        ins = cfg.layer_dims[:-1]
        outs = cfg.layer_dims[1:]
        groups_in = [cfg.groups(w) for w in ins]
        groups_out = [cfg.groups(w) for w in outs]
        weight_bases = [0]
        for g_out, width_in in zip(groups_out, ins, strict=True):
            weight_bases.append(weight_bases[-1] + g_out * width_in)
        weight_depth = weight_bases[-1]
        total_weights = sum(o * i for o, i in zip(outs, ins, strict=True))

        node_bits = _bits(cfg.max_nodes - 1)
        group_bits = _bits(cfg.max_groups - 1)
        edge_bits = _bits(cfg.max_edges)
        store_width = cfg.word_store_width
        agg_width = cfg.aggregate_width
        prob_width = cfg.prob_bits + 1
        # MAC operands: a is a lane's feature, weight or membrane; b the common reciprocal,
        # aggregate or leak. Each exactly as wide as its widest value (see MACArray).
        operand_width = max(store_width + 1, cfg.weight_width, cfg.membrane_width + 1)
        common_width = max(cfg.recip_width + 1, agg_width + 1, _bits(cfg.leak_q) + 1)
        count_width = cfg.count_width
        sum_width = count_width + _bits(cfg.max_nodes)

        # -- memories --------------------------------------------------------------------------
        # Small but wide: without the attribute Yosys builds `block` memories from flip-flops
        # and muxes; with memory_style "distributed" every memory asks for LUT RAM.
        distributed = self.memory_style == "distributed"
        block = {"ram_style": "distributed" if distributed else "block"}
        lut_ram = {"ram_style": "distributed"} if distributed else {}
        lut_rom = {"ram_style": "logic"} if distributed else {}  # LUT RAM needs a write port
        # Feature memory: three regions of max_nodes x 2**group_bits words of `lanes` elements.
        # Region 0 holds the loaded features; layer l writes its spike counts to region
        # 1 + l % 2, so a second RUN finds the features intact. No fourth region: the read
        # multiplexer of a LUT-RAM memory grows with its depth.
        region_shift = node_bits + group_bits
        m.submodules.feature_mem = feature_mem = Memory(
            shape=unsigned(lanes * store_width), depth=3 << region_shift, init=[], attrs=lut_ram
        )
        m.submodules.weight_mem = weight_mem = Memory(
            shape=unsigned(lanes * cfg.weight_width), depth=weight_depth, init=[], attrs=lut_ram
        )
        m.submodules.node_mem = node_mem = Memory(
            shape=unsigned(edge_bits + _bits(cfg.max_nodes)),
            depth=cfg.max_nodes,
            init=[],
            attrs=lut_ram,
        )
        m.submodules.edge_mem = edge_mem = Memory(
            shape=unsigned(node_bits), depth=cfg.max_edges, init=[], attrs=lut_ram
        )
        m.submodules.recip_rom = recip_rom = Memory(
            shape=unsigned(cfg.recip_width),
            depth=cfg.max_nodes + 1,
            init=[int(v) for v in cfg.degree_reciprocals],
            attrs=lut_rom,
        )
        m.submodules.norm_rom = norm_rom = Memory(
            shape=unsigned(cfg.feature_width),
            depth=(T + 1) * (T + 1),
            init=[int(v) for v in cfg.normalisation_table.flat],
            attrs=lut_rom,
        )
        # The current node's aggregates (words 0 ..) and probabilities (words 2**group_bits ..).
        slot_width = max(agg_width, prob_width)
        m.submodules.stage_mem = stage_mem = Memory(
            shape=unsigned(lanes * slot_width), depth=2 << group_bits, init=[], attrs=block
        )
        # Row cmax_prev of the normalisation table for two lanes at once: word (c0, c1) holds
        # the low F bits of table[cmax, c0] and table[cmax, c1] (bit F is set exactly when
        # c == cmax > 0). Loaded at the start of every layer but the first.
        norm_bits = cfg.feature_frac_bits
        norm_tables = []
        for pair in range((lanes + 1) // 2):
            table = Memory(
                shape=unsigned(2 * norm_bits), depth=1 << (2 * count_width), init=[], attrs=block
            )
            m.submodules[f"norm_pair_{pair}"] = table
            norm_tables.append(table)
        # Input spikes of the current node, word group * T + timestep, one bit a lane.
        m.submodules.spike_buf = spike_buf = Memory(
            shape=unsigned(lanes), depth=cfg.max_groups * T, init=[], attrs=block
        )

        feature_rd = feature_mem.read_port()
        feature_wr = feature_mem.write_port(granularity=store_width)
        weight_rd = weight_mem.read_port()
        weight_wr = weight_mem.write_port(granularity=cfg.weight_width)
        node_rd = node_mem.read_port()
        node_wr = node_mem.write_port()
        # On LUT RAM the edge read is asynchronous, with its register in the core (read_node):
        # the same timing as a synchronous port, but the register also holds the readout's node.
        edge_rd = edge_mem.read_port(domain="comb" if distributed else "sync")
        edge_wr = edge_mem.write_port()
        recip_rd = recip_rom.read_port()
        norm_rd = norm_rom.read_port()
        stage_rd = stage_mem.read_port()
        stage_wr = stage_mem.write_port()
        norm_pair_rd = [table.read_port() for table in norm_tables]
        norm_pair_wr = [table.write_port() for table in norm_tables]
        spike_rd = spike_buf.read_port()
        spike_wr = spike_buf.write_port()

        # -- datapath blocks ------------------------------------------------------------------
        m.submodules.mac = mac = MACArray(
            cfg, operand_width, group_bits, common_width, self.product_register
        )
        # The sequencer sees every finished sum MACArray.MAX_LATENCY clocks after its last
        # operands, whatever the array's own latency: the stage memory takes the sum on `done`,
        # the drain states leave on `sum_done`.
        sum_done, sum_done_tag = mac.done, mac.done_tag
        for wait in range(MACArray.MAX_LATENCY - mac.latency):
            later = Signal(name=f"sum_done_{wait + 1}")
            later_tag = Signal.like(mac.done_tag, name=f"sum_done_tag_{wait + 1}")
            m.d.sync += [later.eq(sum_done), later_tag.eq(sum_done_tag)]
            sum_done, sum_done_tag = later, later_tag
        lfsrs, neurons = [], []
        for lane in range(lanes):
            lfsr = LFSR(cfg, lane)
            neuron = LIFLane(cfg, mac.sum_width)
            m.submodules[f"lfsr_{lane}"] = lfsr
            m.submodules[f"lif_{lane}"] = neuron
            lfsrs.append(lfsr)
            neurons.append(neuron)

        # -- per-layer constants --------------------------------------------------------------
        layer = Signal(range(max(n_layers, 2)))
        layer_out = Array(Const(v, _bits(cfg.max_features)) for v in outs)[layer]
        layer_gout = Array(Const(v, group_bits + 1) for v in groups_out)[layer]
        # "Last index" values, so that loop ends compare with a constant or a register rather
        # than through a subtractor (they sit on the sequencer's next-state logic).
        layer_in_last = Array(Const(v - 1, _bits(cfg.max_features)) for v in ins)[layer]
        layer_gin_last = Array(Const(v - 1, group_bits + 1) for v in groups_in)[layer]
        layer_gout_last = Array(Const(v - 1, group_bits + 1) for v in groups_out)[layer]
        # Integration steps of a node: rounds of two groups, T timesteps of two clocks each.
        layer_steps = Array(
            Const(2 * T * ((g + 1) // 2), _bits(2 * cfg.max_groups * T + 1)) for g in groups_out
        )[layer]
        layer_wbase = Array(Const(v, _bits(weight_depth)) for v in weight_bases[:-1])[layer]
        last_layer = layer == n_layers - 1
        region_in = Mux(layer == 0, 0, 1 + (layer[0] ^ 1))
        region_out = 1 + layer[0]
        region_last = 1 + ((n_layers - 1) & 1)

        # -- state ----------------------------------------------------------------------------
        command = self.i_cmd.payload
        opcode = command[arg_width:]
        argument = command[:arg_width]

        graph_nodes = Signal(arg_width)
        graph_valid = Signal()
        feature_nodes = Signal(arg_width)
        features_valid = Signal()

        load_nodes = Signal(arg_width, reset_less=True)
        # Value - 1 of a few counts, signed so that 0 - 1 equals no count.
        load_nodes_last = Signal(signed(arg_width + 1), reset_less=True)
        load_edges_last = Signal(signed(word_width + 1), reset_less=True)
        graph_nodes_last = Signal(signed(arg_width + 1))
        node_degree_last = Signal(signed(_bits(cfg.max_nodes) + 1), reset_less=True)
        load_edges = Signal(word_width, reset_less=True)
        load_count = Signal(word_width + 1, reset_less=True)
        # Loop ends of the loading states, one word ahead: the next word taken is the last
        # degree or neighbour (count_last) or belongs to the last node's features; and the
        # graph has no edges. Registered so that no wide comparison feeds the state.
        count_last = Signal(reset_less=True)
        feature_node_last = Signal(reset_less=True)
        edges_zero = Signal(reset_less=True)
        # Sum of the degrees so far: wide enough for max_nodes degrees of max_nodes each, so
        # that a graph whose every count is in range never wraps it.
        load_offset = Signal(max(word_width + 2, _bits(cfg.max_nodes**2) + 1), reset_less=True)
        bad_argument = Signal(reset_less=True)
        bad_index = Signal(reset_less=True)
        bad_value = Signal(reset_less=True)
        reply_word = Signal(word_width, reset_less=True)

        weight_layer = Signal(range(max(n_layers, 2)), reset_less=True)
        weight_row = Signal(_bits(cfg.max_features), reset_less=True)
        weight_col = Signal(_bits(cfg.max_features), reset_less=True)
        # One-hot lane of the next weight and of the next feature: the write enables of the
        # weight and feature memories, which reach every cell of a LUT-RAM memory, come from
        # flip-flops and the valid, not from a decoder.
        weight_lane = Signal(lanes, reset_less=True)
        weight_row_base = Signal(_bits(weight_depth), reset_less=True)
        weight_left = Signal(_bits(total_weights), reset_less=True)
        weight_last = Signal(reset_less=True)  # the next weight word taken is the last
        # The next weight word ends its row (weight_col_last) and its layer (both flags).
        weight_col_last = Signal(reset_less=True)
        weight_row_last = Signal(reset_less=True)
        weight_in = Array(Const(v, _bits(cfg.max_features)) for v in ins)[weight_layer]
        weight_in_last = Array(Const(v - 1, _bits(cfg.max_features)) for v in ins)[weight_layer]
        weight_out_last = Array(Const(v - 1, _bits(cfg.max_features)) for v in outs)[weight_layer]
        # Rows of one weight, in the current and the next layer.
        weight_in_one = Array(Const(v == 1) for v in ins)[weight_layer]
        weight_next_in_one = Array(Const(v == 1) for v in [*ins[1:], 0])[weight_layer]
        weight_next_out_one = Array(Const(v == 1) for v in [*outs[1:], 0])[weight_layer]
        weight_next_base = Array(Const(v, _bits(weight_depth)) for v in weight_bases[1:])[
            weight_layer
        ]

        feature_node = Signal(arg_width, reset_less=True)
        feature_col = Signal(_bits(cfg.layer_dims[0]), reset_less=True)
        feature_group = Signal(group_bits, reset_less=True)
        feature_lane = Signal(lanes, reset_less=True)
        # The next feature's node is inside the feature memory (feature_node < max_nodes).
        feature_node_stored = Signal(reset_less=True)

        node = Signal(node_bits + 1)
        node_offset = Signal(edge_bits, reset_less=True)
        node_degree = Signal(_bits(cfg.max_nodes), reset_less=True)
        reciprocal = Signal(cfg.recip_width, reset_less=True)
        cmax_prev = Signal(count_width)
        # First word of row cmax_prev of the normalisation table, registered with it.
        norm_row = Signal(range((T + 1) * (T + 1)))
        cmax_cur = Signal(count_width)
        norm_a = Signal(range(T + 1))
        norm_b = Signal(range(T + 1))
        norm_a_d = Signal(range(T + 1))
        norm_b_d = Signal(range(T + 1))
        norm_loading = Signal()
        norm_a_value = Signal(cfg.feature_width)
        norm_a_next = Signal(cfg.feature_width)
        # Class sums start at the signed class bias loaded after the weights.
        class_bias = [
            Signal(signed(cfg.weight_width), name=f"class_bias_{c}") for c in range(cfg.n_classes)
        ]
        bias_left = Signal(range(cfg.n_classes + 1))
        class_sums = [
            Signal(signed(max(sum_width, cfg.weight_width) + 1), name=f"class_sum_{c}")
            for c in range(cfg.n_classes)
        ]
        best_class = Signal(_bits(cfg.n_classes - 1))
        cycles = Signal(32)
        running = Signal()

        agg_edge = Signal(edge_bits + 1, reset_less=True)
        # node_offset + agg_edge, kept in a register beside them: the edge memory's read
        # address, which on LUT RAM starts the path through its read multiplexer.
        edge_addr = Signal(edge_bits + 1, reset_less=True)
        # Loop ends one step ahead: the node has one neighbour; agg_edge is its last; node
        # and out_node are the graph's last (the last two compared on every clock: they change
        # two clocks or more before they are read).
        single_edge = Signal(reset_less=True)
        agg_last = Signal(reset_less=True)
        node_last = Signal()
        out_node_last = Signal()
        agg_group = Signal(group_bits + 1, reset_less=True)
        proj_col = Signal(_bits(cfg.max_features), reset_less=True)
        proj_word = Signal(group_bits + 1, reset_less=True)
        proj_lane = Signal(range(lanes), reset_less=True)
        proj_group = Signal(group_bits + 1, reset_less=True)
        proj_waddr = Signal(_bits(weight_depth), reset_less=True)
        lif_group = Signal(group_bits + 1)
        lif_step = Signal(range(T))
        lif_wait = Signal(range(T + 1))
        lif_left = Signal(range(2 * cfg.max_groups * T + 2))

        out_node = Signal(node_bits + 1)
        out_class = Signal(_bits(cfg.n_classes))
        # The feature memory's read address: group, node and region. The group serves both the
        # aggregation (the group of the edge just read) and the readout.
        read_group = Signal(group_bits + 1)
        read_region = Signal(2)
        out_lane = Signal(range(lanes))

        m.d.comb += self.busy.eq(running)
        m.d.sync += [
            node_last.eq(node == graph_nodes_last),
            out_node_last.eq(out_node == graph_nodes_last),
        ]
        with m.If(running):
            m.d.sync += cycles.eq(cycles + 1)

        # -- MAC operand pipeline -------------------------------------------------------------
        # Aggregation: edge read (issue) -> feature read (a1) -> normalisation read (a2) ->
        # operands (a3). Projection: aggregate and weight read (issue) -> operands (p1).
        a1_valid, a1_first, a1_last = Signal(), Signal(), Signal()
        a1_group = Signal(group_bits)
        a2_valid, a2_first, a2_last = Signal(), Signal(), Signal()
        a2_group = Signal(group_bits)
        a3_valid, a3_first, a3_last = Signal(), Signal(), Signal()
        a3_group = Signal(group_bits)
        p1_valid, p1_first, p1_last = Signal(), Signal(), Signal()
        p1_group = Signal(group_bits)
        p1_lane = Signal(range(lanes))
        isolated = Signal()
        m.d.sync += [
            a2_valid.eq(a1_valid),
            a2_first.eq(a1_first),
            a2_last.eq(a1_last),
            a2_group.eq(a1_group),
            a3_valid.eq(a2_valid),
            a3_first.eq(a2_first),
            a3_last.eq(a2_last),
            a3_group.eq(a2_group),
        ]
        m.d.sync += [a1_valid.eq(0), p1_valid.eq(0)]

        # The feature memory is read for the aggregation during a run (the node is a neighbour
        # from the edge memory) and for the count readout after it (out_node). On LUT RAM the
        # address drives every cell of the memory, so it comes straight from flip-flops: the
        # neighbour from the edge read register, which the readout loads as well. Block RAM
        # keeps its own output register and the choice through `running`, a flip-flop.
        if distributed:
            read_node = Signal(node_bits)
        else:
            read_node = Mux(running, edge_rd.data, out_node[:node_bits])
        m.d.comb += [
            feature_rd.addr.eq(Cat(read_group[:group_bits], read_node, read_region)),
            edge_rd.addr.eq(edge_addr),
        ]

        agg_elements = [feature_rd.data.word_select(k, store_width) for k in range(lanes)]
        agg_lane_values = Array(
            stage_rd.data.word_select(k, slot_width)[:agg_width] for k in range(lanes)
        )
        # a2 -> a3: layer 0 takes the loaded features as they are; later layers look their
        # spike counts up in the normalisation tables.
        raw_features = [Signal(store_width, name=f"raw_feature_{k}") for k in range(lanes)]
        at_cmax = [Signal(name=f"at_cmax_{k}") for k in range(lanes)]
        for k in range(lanes):
            count = agg_elements[k][:count_width]
            m.d.sync += [
                raw_features[k].eq(agg_elements[k]),
                at_cmax[k].eq((count == cmax_prev) & (cmax_prev != 0)),
            ]
        for pair, port in enumerate(norm_pair_rd):
            counts_in = [
                agg_elements[k][:count_width] if k < lanes else Const(0, count_width)
                for k in (2 * pair, 2 * pair + 1)
            ]
            m.d.comb += port.addr.eq(Cat(*counts_in))
        normalised = []
        for k in range(lanes):
            low = norm_pair_rd[k // 2].data.word_select(k % 2, norm_bits)
            normalised.append(Cat(low, at_cmax[k]))
        weights = [
            weight_rd.data.word_select(k, cfg.weight_width).as_signed() for k in range(lanes)
        ]
        # Operand a is each lane's own, operand b is common to every lane.
        common = Signal(signed(common_width))
        m.d.comb += [mac.b[k].eq(common) for k in range(lanes)]
        with m.If(a3_valid):
            m.d.comb += [mac.valid.eq(1), mac.first.eq(a3_first), mac.last.eq(a3_last)]
            m.d.comb += [mac.tag.eq(a3_group), common.eq(reciprocal)]
            for k in range(lanes):
                m.d.comb += mac.a[k].eq(Mux(layer == 0, raw_features[k], normalised[k]))
        with m.Elif(p1_valid):
            m.d.comb += [mac.valid.eq(1), mac.first.eq(p1_first), mac.last.eq(p1_last)]
            m.d.comb += [
                mac.tag.eq(p1_group),
                common.eq(Mux(isolated, 0, agg_lane_values[p1_lane])),
            ]
            m.d.comb += [mac.a[k].eq(weights[k]) for k in range(lanes)]
        with m.Else():
            # No sum in flight: every clock's products start a sum of their own, so `product`
            # returns each LIF lane's membrane times the leak two clocks later (with or without
            # the product register).
            m.d.comb += [mac.valid.eq(1), mac.first.eq(1), common.eq(cfg.leak_q)]
            m.d.comb += [mac.a[k].eq(neurons[k].operand) for k in range(lanes)]

        # Finished sums: aggregates and probabilities to stage_mem.
        in_aggregation = Signal()
        m.d.comb += stage_wr.addr.eq(Cat(mac.done_tag, ~in_aggregation))
        for k in range(lanes):
            acc = mac.acc[k]
            shifted = acc >> cfg.probability_shift
            clipped = Mux(
                shifted < 0, 0, Mux(shifted > cfg.probability_one, cfg.probability_one, shifted)
            )
            aggregate = (acc >> cfg.recip_frac_bits)[:agg_width]
            m.d.comb += stage_wr.data.word_select(k, slot_width).eq(
                Mux(in_aggregation, aggregate, clipped)
            )
        m.d.comb += stage_wr.en.eq(mac.done)

        # Normalisation tables: LAYER_NORM walks (c1, c0) over the table row, c0 fastest,
        # reading table[cmax, c0] from the ROM; table[cmax, c1] is kept from the pass before.
        m.d.sync += norm_loading.eq(0)
        for port in norm_pair_wr:
            m.d.comb += [
                port.addr.eq(Cat(norm_b_d[:count_width], norm_a_d[:count_width])),
                port.data.eq(Cat(norm_rd.data[:norm_bits], norm_a_value[:norm_bits])),
                port.en.eq(norm_loading),
            ]
        with m.If(norm_loading):
            with m.If(norm_b_d == norm_a_d + 1):
                m.d.sync += norm_a_next.eq(norm_rd.data)
            with m.If(norm_b_d == T):
                m.d.sync += norm_a_value.eq(Mux(norm_a_d + 1 == T, norm_rd.data, norm_a_next))

        # -- LIF lanes ------------------------------------------------------------------------
        # Draws: while `drawing`, one (group, timestep) a clock in the golden order, every
        # lane's input spike (draw < probability) goes to spike_buf.
        drawing = Signal()
        draw_addr = Signal(range(cfg.max_groups * T))
        for k in range(lanes):
            probability = stage_rd.data.word_select(k, slot_width)[:prob_width]
            m.d.comb += [
                spike_wr.data[k].eq(lfsrs[k].draw < probability),
                lfsrs[k].advance.eq(drawing),
            ]
        m.d.comb += [spike_wr.addr.eq(draw_addr), spike_wr.en.eq(drawing)]
        with m.If(drawing):
            m.d.sync += draw_addr.eq(draw_addr + 1)
            with m.If(lif_step == T - 1):
                m.d.sync += [lif_step.eq(0), lif_group.eq(lif_group + 1)]
                with m.If(lif_group == layer_gout_last):
                    m.d.sync += drawing.eq(0)
            with m.Else():
                m.d.sync += lif_step.eq(lif_step + 1)

        # Integration: the lanes step two groups at once (slots 0 and 1 of a round), on
        # alternate clocks, through the MAC array's operand and product registers. A step
        # enters the ring (e), has its spike read (s1) and finishes two clocks later (s2).
        entering = Signal()
        enter_slot = Signal()
        enter_step = Signal(range(T))
        enter_round = Signal(group_bits + 1)  # group of slot 0
        enter_base = Signal(range(cfg.max_groups * T + 1))  # its spike_buf word of step 0
        s1_valid, s2_valid = Signal(), Signal()
        s1_group, s2_group = Signal(group_bits + 1), Signal(group_bits + 1)
        s1_step, s2_step = Signal(range(T)), Signal(range(T))
        s1_addr = Signal(range(cfg.max_groups * T))
        m.d.sync += [
            s1_valid.eq(entering),
            s1_group.eq(enter_round + enter_slot),
            s1_step.eq(enter_step),
            s1_addr.eq(enter_base + Mux(enter_slot, T, 0) + enter_step),
            s2_valid.eq(s1_valid),
            s2_group.eq(s1_group),
            s2_step.eq(s1_step),
        ]
        m.d.comb += spike_rd.addr.eq(s1_addr)
        with m.If(entering):
            m.d.sync += enter_slot.eq(~enter_slot)
            with m.If(enter_slot):
                with m.If(enter_step == T - 1):
                    m.d.sync += [
                        enter_step.eq(0),
                        enter_round.eq(enter_round + 2),
                        enter_base.eq(enter_base + 2 * T),
                    ]
                with m.Else():
                    m.d.sync += enter_step.eq(enter_step + 1)
        for k in range(lanes):
            m.d.comb += [
                neurons[k].product.eq(mac.product[k]),
                neurons[k].spike_in.eq(spike_rd.data[k]),
                neurons[k].start.eq(enter_step == 0),
            ]

        # A group's counts, on the clock its last timestep finishes, go to the write-back
        # registers; the next clock writes them to the feature memory, masks the lanes past
        # the layer's width and adds the class sums; the clock after that folds their
        # maximum into cmax_cur.
        wb_pending = Signal()
        wb_group = Signal(group_bits + 1)
        counts = [Signal(count_width, name=f"wb_count_{k}") for k in range(lanes)]
        m.d.sync += wb_pending.eq(s2_valid & (s2_step == T - 1) & (s2_group < layer_gout))
        m.d.sync += wb_group.eq(s2_group)
        m.d.sync += [counts[k].eq(neurons[k].count) for k in range(lanes)]
        wb_feature = Cat(wb_group[:group_bits], node[:node_bits], Const(0, 2)) | (
            region_out << region_shift
        )
        lane_live = [(wb_group * lanes + k) < layer_out for k in range(lanes)]
        live_pending = Signal()
        fold_wait = Signal(4)
        m.d.sync += live_pending.eq(wb_pending)
        # Largest live count of the group: registered lane values, then a balanced tree of
        # named signals, log2(lanes) deep, registered after every second level (each level is
        # a comparison and a multiplexer); the last one folds into cmax_cur.
        level = []
        for k in range(lanes):
            candidate = Signal(count_width, name=f"live_count_{k}")
            m.d.sync += candidate.eq(Mux(lane_live[k], counts[k], 0))
            level.append(candidate)
        depth = 0
        fold_clocks = 0  # registers between the tree's leaves and cmax_cur, past the first
        while len(level) > 1:
            depth += 1
            paired = []
            for index in range(0, len(level) - 1, 2):
                left, right = level[index], level[index + 1]
                larger = Signal(count_width, name=f"max_{depth}_{index // 2}")
                m.d.comb += larger.eq(Mux(left > right, left, right))
                paired.append(larger)
            if len(level) % 2:
                paired.append(level[-1])
            level = paired
            if depth % 2 == 0 and len(level) > 1:
                staged = [
                    Signal(count_width, name=f"max_{depth}_{i}_reg") for i in range(len(level))
                ]
                m.d.sync += [reg.eq(value) for reg, value in zip(staged, level, strict=True)]
                level = staged
                delayed = Signal(name=f"live_pending_{depth}")
                m.d.sync += delayed.eq(live_pending)
                live_pending = delayed
                fold_clocks += 1
        group_max = level[0]
        with m.If(live_pending & (group_max > cmax_cur)):
            m.d.sync += cmax_cur.eq(group_max)
        with m.If(wb_pending & last_layer):
            for c, total in enumerate(class_sums):
                with m.If(wb_group == c // lanes):
                    m.d.sync += total.eq(total + counts[c % lanes])

        # Feature-memory writes: spike counts during a run, host features while loading.
        write_lane_data = Signal(store_width)
        with m.If(wb_pending):
            m.d.comb += [
                feature_wr.addr.eq(wb_feature),
                feature_wr.en.eq((1 << lanes) - 1),
            ]
            for k in range(lanes):
                m.d.comb += feature_wr.data.word_select(k, store_width).eq(counts[k])
        with m.Else():
            m.d.comb += feature_wr.addr.eq(
                Cat(feature_group, feature_node[:node_bits], Const(0, 2))
            )
            for k in range(lanes):
                m.d.comb += feature_wr.data.word_select(k, store_width).eq(write_lane_data)

        # Readout: highest class sum, ties to the lowest class.
        # A chain of named signals: an expression reusing the previous step twice would double
        # with every class.
        best = Const(0, _bits(cfg.n_classes - 1))
        best_value = class_sums[0]
        for c in range(1, cfg.n_classes):
            better = Signal(name=f"class_{c}_better")
            chosen = Signal.like(best_value, name=f"class_{c}_best_sum")
            leader = Signal(_bits(cfg.n_classes - 1), name=f"class_{c}_best")
            m.d.comb += [
                better.eq(class_sums[c] > best_value),
                chosen.eq(Mux(better, class_sums[c], best_value)),
                leader.eq(Mux(better, c, best)),
            ]
            best, best_value = leader, chosen

        # A word is taken: used only in the loading states, which hold i_cmd.ready high, so
        # the valid alone (no decode of the state behind ready).
        accept = self.i_cmd.valid

        def status(op, code):
            # A status code is a Status member or, after a load, a Mux of them.
            code = int(code) if isinstance(code, int) else code
            return Const(int(op) << opcode_shift(word_width), word_width) | (
                code << status_shift(word_width)
            )

        # -- sequencer ------------------------------------------------------------------------
        # A RUN can start: the loaded graph and features are valid and of the same node count.
        # Registered: they change only in the states that end a load, two clocks before IDLE.
        run_ready = Signal()
        m.d.sync += run_ready.eq(graph_valid & features_valid & (feature_nodes == graph_nodes))

        # The stream handshakes come straight from flip-flops: every transition between a state
        # that takes command words and one that does not, or one that offers a reply word and
        # one that does not, sets them for the state it goes to.
        ready_states = {
            "IDLE",
            "LOAD_WEIGHTS",
            "LOAD_CLASS_BIAS",
            "LOAD_EDGE_COUNT",
            "LOAD_DEGREES",
            "LOAD_NEIGHBOURS",
            "LOAD_FEATURES",
        }
        reply_states = {
            "REPLY",
            "RUN_STATUS",
            "COUNT_SEND",
            "CLASS_SEND",
            "CYCLES_HIGH",
            "CYCLES_LOW",
            "IDENTIFY_STATUS",
            "IDENTIFY_HASH",
            "IDENTIFY_VERSION",
        }
        cmd_ready = Signal(init=1)
        reply_valid = Signal()
        m.d.comb += [self.i_cmd.ready.eq(cmd_ready), self.o_reply.valid.eq(reply_valid)]

        # One flip-flop per loading state that writes a memory, high exactly in that state: the
        # write enables come from these and the valid alone, not from a decode of the state.
        # On LUT RAM each enable fans out to the write strobes of every cell of its memory.
        write_states = ("LOAD_WEIGHTS", "LOAD_DEGREES", "LOAD_NEIGHBOURS", "LOAD_FEATURES")
        in_state = {name: Signal(name=f"in_{name.lower()}") for name in write_states}

        def goto(state: str, origin: str) -> None:
            """``m.next = state`` from ``origin``, with the handshakes and flags that change."""
            m.next = state
            for name, flag in in_state.items():
                if (state == name) != (origin == name):
                    m.d.sync += flag.eq(state == name)
            if (state in ready_states) != (origin in ready_states):
                m.d.sync += cmd_ready.eq(state in ready_states)
            if (state in reply_states) != (origin in reply_states):
                m.d.sync += reply_valid.eq(state in reply_states)

        # Host words into the memories, in the loading states.
        m.d.comb += [
            weight_wr.addr.eq(weight_row_base + weight_col),
            weight_wr.en.eq(Mux(accept & in_state["LOAD_WEIGHTS"], weight_lane, 0)),
            node_wr.addr.eq(load_count),
            node_wr.data.eq(Cat(load_offset[:edge_bits], command[: _bits(cfg.max_nodes)])),
            node_wr.en.eq(accept & in_state["LOAD_DEGREES"] & (load_count < cfg.max_nodes)),
            edge_wr.addr.eq(load_count),
            edge_wr.data.eq(command),
            edge_wr.en.eq(accept & in_state["LOAD_NEIGHBOURS"] & (load_count < cfg.max_edges)),
            write_lane_data.eq(command[:store_width]),
        ]
        for k in range(lanes):
            m.d.comb += weight_wr.data.word_select(k, cfg.weight_width).eq(
                command[: cfg.weight_width]
            )
        with m.If(~wb_pending):
            m.d.comb += feature_wr.en.eq(
                Mux(
                    accept & in_state["LOAD_FEATURES"] & feature_node_stored,
                    feature_lane,
                    0,
                )
            )

        with m.FSM(name="sequencer") as sequencer:
            with m.State("IDLE"):
                # The loading counters and flags are only read in the states a command leads
                # to, so they follow every word offered here, taken or not: no opcode decode
                # on their enables. Likewise the reply word of the commands answered at once.
                m.d.sync += [
                    weight_layer.eq(0),
                    weight_row.eq(0),
                    weight_col.eq(0),
                    weight_lane.eq(1),
                    weight_row_base.eq(0),
                    weight_left.eq(total_weights),
                    weight_last.eq(total_weights == 1),
                    weight_col_last.eq(ins[0] == 1),
                    weight_row_last.eq(outs[0] == 1),
                    load_nodes.eq(argument),
                    load_nodes_last.eq(argument - 1),
                    bad_argument.eq((argument == 0) | (argument > cfg.max_nodes)),
                    bad_index.eq(0),
                    bad_value.eq(0),
                    feature_node.eq(0),
                    feature_col.eq(0),
                    feature_group.eq(0),
                    feature_lane.eq(1),
                    feature_node_stored.eq(1),
                    feature_node_last.eq(argument == 1),
                    cycles.eq(0),
                    layer.eq(0),
                    cmax_cur.eq(0),
                ]
                m.d.sync += [
                    total.eq(bias) for total, bias in zip(class_sums, class_bias, strict=True)
                ]
                with m.Switch(opcode):
                    with m.Case(Opcode.LOAD_FEATURES):
                        m.d.sync += reply_word.eq(status(Opcode.LOAD_FEATURES, Status.BAD_ARGUMENT))
                    with m.Case(Opcode.RUN):
                        m.d.sync += reply_word.eq(status(Opcode.RUN, Status.NOT_READY))
                    with m.Default():
                        m.d.sync += reply_word.eq(
                            (opcode << opcode_shift(word_width))
                            | (Status.UNKNOWN_OPCODE << status_shift(word_width))
                        )
                # The word offered leads to a loading state (more words to take), starts a run,
                # or is answered at once; the handshakes follow from that, not from the state
                # each case goes to.
                loads = Signal()
                starts = Signal()
                m.d.comb += [
                    loads.eq(
                        (opcode == Opcode.LOAD_WEIGHTS)
                        | (opcode == Opcode.LOAD_GRAPH)
                        | ((opcode == Opcode.LOAD_FEATURES) & (argument != 0))
                    ),
                    starts.eq((opcode == Opcode.RUN) & run_ready),
                ]
                with m.If(self.i_cmd.valid):
                    m.d.sync += [
                        cmd_ready.eq(loads),
                        reply_valid.eq(~loads & ~starts),
                        running.eq(starts),
                    ]
                    with m.Switch(opcode):
                        with m.Case(Opcode.LOAD_WEIGHTS):
                            goto("LOAD_WEIGHTS", "IDLE")
                        with m.Case(Opcode.LOAD_GRAPH):
                            m.d.sync += graph_valid.eq(0)
                            m.next = "LOAD_EDGE_COUNT"
                        with m.Case(Opcode.LOAD_FEATURES):
                            m.d.sync += features_valid.eq(0)
                            with m.If(argument == 0):
                                m.next = "REPLY"
                            with m.Else():
                                goto("LOAD_FEATURES", "IDLE")
                        with m.Case(Opcode.RUN):
                            with m.If(run_ready):
                                m.next = "LAYER_START"
                            with m.Else():
                                m.next = "REPLY"
                        with m.Case(Opcode.IDENTIFY):
                            m.next = "IDENTIFY_STATUS"
                        with m.Default():
                            m.next = "REPLY"

            # ---- loading -------------------------------------------------------------------
            with m.State("LOAD_WEIGHTS"):
                with m.If(accept):
                    m.d.sync += [weight_left.eq(weight_left - 1), weight_last.eq(weight_left == 2)]
                    with m.If(weight_col_last):
                        m.d.sync += weight_col.eq(0)
                        with m.If(weight_row_last):
                            m.d.sync += [
                                weight_row.eq(0),
                                weight_lane.eq(1),
                                weight_layer.eq(weight_layer + 1),
                                weight_row_base.eq(weight_next_base),
                                weight_col_last.eq(weight_next_in_one),
                                weight_row_last.eq(weight_next_out_one),
                            ]
                        with m.Else():
                            m.d.sync += [
                                weight_row.eq(weight_row + 1),
                                weight_col_last.eq(weight_in_one),
                                weight_row_last.eq(weight_row + 1 == weight_out_last),
                            ]
                            with m.If(weight_lane[-1]):
                                m.d.sync += [
                                    weight_lane.eq(1),
                                    weight_row_base.eq(weight_row_base + weight_in),
                                ]
                            with m.Else():
                                m.d.sync += weight_lane.eq(weight_lane << 1)
                    with m.Else():
                        m.d.sync += [
                            weight_col.eq(weight_col + 1),
                            weight_col_last.eq(weight_col + 1 == weight_in_last),
                        ]
                    with m.If(weight_last):
                        m.d.sync += bias_left.eq(cfg.n_classes)
                        goto("LOAD_CLASS_BIAS", "LOAD_WEIGHTS")

            with m.State("LOAD_CLASS_BIAS"):
                # One word a class, class 0 first: shifted in from the top.
                m.d.sync += reply_word.eq(status(Opcode.LOAD_WEIGHTS, Status.OK))
                with m.If(accept):
                    m.d.sync += [
                        *(
                            low.eq(high)
                            for low, high in zip(class_bias, class_bias[1:], strict=False)
                        ),
                        class_bias[-1].eq(command[: cfg.weight_width]),
                        bias_left.eq(bias_left - 1),
                    ]
                    with m.If(bias_left == 1):
                        goto("REPLY", "LOAD_CLASS_BIAS")

            with m.State("LOAD_EDGE_COUNT"):
                with m.If(accept):
                    m.d.sync += [
                        load_edges.eq(command),
                        load_edges_last.eq(command - 1),
                        load_count.eq(0),
                        load_offset.eq(0),
                        edges_zero.eq(command == 0),
                        count_last.eq(Mux(load_nodes != 0, load_nodes_last == 0, command == 1)),
                    ]
                    with m.If(command > cfg.max_edges):
                        m.d.sync += bad_argument.eq(1)
                    with m.If(load_nodes != 0):
                        goto("LOAD_DEGREES", "LOAD_EDGE_COUNT")
                    with m.Elif(command != 0):
                        goto("LOAD_NEIGHBOURS", "LOAD_EDGE_COUNT")
                    with m.Else():
                        goto("LOAD_GRAPH_DONE", "LOAD_EDGE_COUNT")

            with m.State("LOAD_DEGREES"):
                with m.If(accept):
                    offset_after = load_offset + command
                    m.d.sync += [
                        load_offset.eq(offset_after),
                        load_count.eq(load_count + 1),
                        count_last.eq(load_count + 1 == load_nodes_last),
                    ]
                    with m.If(command > cfg.max_nodes):
                        m.d.sync += bad_argument.eq(1)
                    with m.If(count_last):
                        # LOAD_GRAPH_DONE checks the degrees' sum, then in load_offset.
                        m.d.sync += [load_count.eq(0), count_last.eq(load_edges_last == 0)]
                        with m.If(edges_zero):
                            goto("LOAD_GRAPH_DONE", "LOAD_DEGREES")
                        with m.Else():
                            goto("LOAD_NEIGHBOURS", "LOAD_DEGREES")

            with m.State("LOAD_NEIGHBOURS"):
                with m.If(accept):
                    m.d.sync += [
                        load_count.eq(load_count + 1),
                        count_last.eq(load_count + 1 == load_edges_last),
                    ]
                    with m.If(command >= load_nodes):
                        m.d.sync += bad_index.eq(1)
                    with m.If(count_last):
                        goto("LOAD_GRAPH_DONE", "LOAD_NEIGHBOURS")

            with m.State("LOAD_GRAPH_DONE"):
                # The degrees must add up to the edge count (without degrees, N = 0 is bad).
                bad_graph = bad_argument | (load_offset != load_edges)
                code = Mux(
                    bad_graph,
                    Status.BAD_ARGUMENT,
                    Mux(bad_index, Status.BAD_NEIGHBOUR, 0),
                )
                m.d.sync += [
                    reply_word.eq(status(Opcode.LOAD_GRAPH, code)),
                    graph_valid.eq(~bad_graph & ~bad_index),
                    graph_nodes.eq(load_nodes),
                    graph_nodes_last.eq(load_nodes_last),
                ]
                goto("REPLY", "LOAD_GRAPH_DONE")

            with m.State("LOAD_FEATURES"):
                with m.If(accept):
                    with m.If(command > cfg.feature_one):
                        m.d.sync += bad_value.eq(1)
                    with m.If(feature_col == cfg.layer_dims[0] - 1):
                        m.d.sync += [
                            feature_col.eq(0),
                            feature_group.eq(0),
                            feature_lane.eq(1),
                            feature_node.eq(feature_node + 1),
                            feature_node_stored.eq(feature_node + 1 < cfg.max_nodes),
                            feature_node_last.eq(feature_node + 1 == load_nodes_last),
                        ]
                        with m.If(feature_node_last):
                            goto("LOAD_FEATURES_DONE", "LOAD_FEATURES")
                    with m.Else():
                        m.d.sync += feature_col.eq(feature_col + 1)
                        with m.If(feature_lane[-1]):
                            m.d.sync += [feature_lane.eq(1), feature_group.eq(feature_group + 1)]
                        with m.Else():
                            m.d.sync += feature_lane.eq(feature_lane << 1)

            with m.State("LOAD_FEATURES_DONE"):
                code = Mux(
                    bad_argument,
                    Status.BAD_ARGUMENT,
                    Mux(bad_value, Status.BAD_VALUE, 0),
                )
                m.d.sync += [
                    reply_word.eq(status(Opcode.LOAD_FEATURES, code)),
                    features_valid.eq(~bad_argument & ~bad_value),
                    feature_nodes.eq(load_nodes),
                ]
                goto("REPLY", "LOAD_FEATURES_DONE")

            with m.State("REPLY"):
                m.d.comb += [self.o_reply.payload.eq(reply_word)]
                with m.If(self.o_reply.ready):
                    goto("IDLE", "REPLY")

            # ---- inference -----------------------------------------------------------------
            with m.State("LAYER_START"):
                m.d.comb += [lfsr.reload.eq(1) for lfsr in lfsrs]
                # cmax_cur is final here: the last write-back folds it in during LAYER_END.
                m.d.sync += [
                    node.eq(0),
                    cmax_prev.eq(cmax_cur),
                    norm_row.eq(constant_product(cmax_cur, T + 1)),
                    cmax_cur.eq(0),
                    norm_a.eq(0),
                    norm_b.eq(0),
                    norm_a_value.eq(0),  # table[cmax, 0] = 0
                    read_region.eq(region_in),
                ]
                with m.If(layer == 0):
                    m.next = "NODE_START"
                with m.Else():
                    m.next = "LAYER_NORM"

            with m.State("LAYER_NORM"):
                # Row cmax_prev of the table into the pair tables: (T + 1)**2 + 1 clocks.
                m.d.comb += norm_rd.addr.eq(norm_row + norm_b)
                m.d.sync += [norm_loading.eq(1), norm_a_d.eq(norm_a), norm_b_d.eq(norm_b)]
                with m.If(norm_b == T):
                    m.d.sync += [norm_b.eq(0), norm_a.eq(norm_a + 1)]
                    with m.If(norm_a == T):
                        m.next = "LAYER_NORM_LAST"
                with m.Else():
                    m.d.sync += norm_b.eq(norm_b + 1)

            with m.State("LAYER_NORM_LAST"):
                m.next = "NODE_START"

            with m.State("NODE_START"):
                m.d.comb += node_rd.addr.eq(node)
                m.next = "NODE_READ"

            with m.State("NODE_READ"):
                degree = node_rd.data[edge_bits:]
                m.d.comb += recip_rd.addr.eq(degree)
                m.d.sync += [
                    node_offset.eq(node_rd.data[:edge_bits]),
                    node_degree.eq(degree),
                    node_degree_last.eq(degree - 1),
                    isolated.eq(degree == 0),
                    single_edge.eq(degree == 1),
                ]
                m.next = "NODE_RECIP"

            with m.State("NODE_RECIP"):
                m.d.sync += [
                    reciprocal.eq(recip_rd.data),
                    agg_edge.eq(0),
                    edge_addr.eq(node_offset),
                    agg_group.eq(0),
                    agg_last.eq(single_edge),
                ]
                m.d.sync += [
                    proj_col.eq(0),
                    proj_word.eq(0),
                    proj_lane.eq(0),
                    proj_group.eq(0),
                    proj_waddr.eq(layer_wbase),
                ]
                with m.If(isolated):
                    m.next = "PROJECT"
                with m.Else():
                    m.next = "AGGREGATE"

            with m.State("AGGREGATE"):
                m.d.comb += in_aggregation.eq(1)
                m.d.sync += read_group.eq(agg_group)
                if distributed:
                    m.d.sync += read_node.eq(edge_rd.data)
                m.d.sync += [
                    a1_valid.eq(1),
                    a1_first.eq(agg_edge == 0),
                    a1_last.eq(agg_last),
                    a1_group.eq(agg_group),
                ]
                with m.If(agg_last):
                    m.d.sync += [
                        agg_edge.eq(0),
                        edge_addr.eq(node_offset),
                        agg_group.eq(agg_group + 1),
                        agg_last.eq(single_edge),
                    ]
                    with m.If(agg_group == layer_gin_last):
                        m.next = "AGGREGATE_DRAIN"
                with m.Else():
                    m.d.sync += [
                        agg_edge.eq(agg_edge + 1),
                        edge_addr.eq(edge_addr + 1),
                        agg_last.eq(agg_edge + 1 == node_degree_last),
                    ]

            with m.State("AGGREGATE_DRAIN"):
                m.d.comb += in_aggregation.eq(1)
                with m.If(sum_done & (sum_done_tag == layer_gin_last)):
                    m.next = "PROJECT"

            with m.State("PROJECT"):
                m.d.comb += [
                    stage_rd.addr.eq(Cat(proj_word[:group_bits], Const(0, 1))),
                    weight_rd.addr.eq(proj_waddr),
                ]
                m.d.sync += [
                    p1_valid.eq(1),
                    p1_first.eq(proj_col == 0),
                    p1_last.eq(proj_col == layer_in_last),
                    p1_group.eq(proj_group),
                    p1_lane.eq(proj_lane),
                    proj_waddr.eq(proj_waddr + 1),
                ]
                with m.If(proj_col == layer_in_last):
                    m.d.sync += [
                        proj_col.eq(0),
                        proj_word.eq(0),
                        proj_lane.eq(0),
                        proj_group.eq(proj_group + 1),
                    ]
                    with m.If(proj_group == layer_gout_last):
                        m.next = "PROJECT_DRAIN"
                with m.Else():
                    m.d.sync += proj_col.eq(proj_col + 1)
                    _next_lane(m, proj_lane, proj_word, lanes)

            with m.State("PROJECT_DRAIN"):
                with m.If(sum_done & (sum_done_tag == layer_gout_last)):
                    m.d.sync += [lif_group.eq(0), lif_step.eq(0)]
                    m.next = "LIF_FETCH"

            with m.State("LIF_FETCH"):
                m.d.comb += stage_rd.addr.eq(Cat(Const(0, group_bits), Const(1, 1)))
                m.d.sync += [
                    drawing.eq(1),
                    draw_addr.eq(0),
                    lif_wait.eq(Mux(layer_gout > 1, T - 1, 0)),
                    lif_left.eq(layer_steps),
                    enter_slot.eq(0),
                    enter_step.eq(0),
                    enter_round.eq(0),
                    enter_base.eq(0),
                ]
                m.next = "LIF_RUN"

            with m.State("LIF_RUN"):
                # Draws from the first clock; integration once slot 1's first spike is drawn.
                fetch = Mux(lif_step == T - 1, lif_group + 1, lif_group)
                m.d.comb += stage_rd.addr.eq(Cat(fetch[:group_bits], Const(1, 1)))
                with m.If(lif_wait != 0):
                    m.d.sync += lif_wait.eq(lif_wait - 1)
                with m.Else():
                    m.d.comb += entering.eq(1)
                    m.d.sync += lif_left.eq(lif_left - 1)
                    with m.If(lif_left == 1):
                        m.next = "LIF_DRAIN"

            with m.State("LIF_DRAIN"):
                # The last step entered finishes two clocks after it entered.
                m.d.sync += lif_wait.eq(lif_wait + 1)
                with m.If(lif_wait == 1):
                    m.next = "NODE_NEXT"

            with m.State("NODE_NEXT"):
                m.d.sync += node.eq(node + 1)
                with m.If(node_last):
                    m.next = "LAYER_END"
                with m.Else():
                    m.next = "NODE_START"

            with m.State("LAYER_END"):
                m.d.sync += [layer.eq(layer + 1), fold_wait.eq(0)]
                with m.If(last_layer):
                    m.next = "READOUT"
                with m.Else():
                    m.next = "LAYER_FOLD" if fold_clocks else "LAYER_START"

            with m.State("LAYER_FOLD"):
                # The last group's maximum is still on its way through the tree.
                m.d.sync += fold_wait.eq(fold_wait + 1)
                with m.If(fold_wait == fold_clocks - 1):
                    m.next = "LAYER_START"

            with m.State("READOUT"):
                m.d.sync += [best_class.eq(best), running.eq(0)]
                goto("RUN_STATUS", "READOUT")

            # ---- results -------------------------------------------------------------------
            with m.State("RUN_STATUS"):
                m.d.comb += [
                    self.o_reply.payload.eq(status(Opcode.RUN, Status.OK)),
                ]
                with m.If(self.o_reply.ready):
                    m.d.sync += [
                        out_node.eq(0),
                        out_class.eq(0),
                        out_lane.eq(0),
                        read_group.eq(0),
                        read_region.eq(region_last),
                    ]
                    if distributed:
                        m.d.sync += read_node.eq(0)
                    goto("COUNT_FETCH", "RUN_STATUS")

            with m.State("COUNT_FETCH"):
                goto("COUNT_SEND", "COUNT_FETCH")

            with m.State("COUNT_SEND"):
                m.d.comb += self.o_reply.payload.eq(Array(agg_elements)[out_lane][:count_width])
                with m.If(self.o_reply.ready):
                    with m.If(out_class == cfg.n_classes - 1):
                        m.d.sync += [
                            out_class.eq(0),
                            read_group.eq(0),
                            out_lane.eq(0),
                            out_node.eq(out_node + 1),
                        ]
                        if distributed:
                            m.d.sync += read_node.eq(out_node[:node_bits] + 1)
                        with m.If(out_node_last):
                            m.next = "CLASS_SEND"
                        with m.Else():
                            goto("COUNT_FETCH", "COUNT_SEND")
                    with m.Else():
                        m.d.sync += out_class.eq(out_class + 1)
                        with m.If(_next_lane(m, out_lane, read_group, lanes)):
                            goto("COUNT_FETCH", "COUNT_SEND")

            with m.State("CLASS_SEND"):
                m.d.comb += [self.o_reply.payload.eq(best_class)]
                with m.If(self.o_reply.ready):
                    m.next = "CYCLES_HIGH"

            with m.State("CYCLES_HIGH"):
                m.d.comb += [self.o_reply.payload.eq(cycles[16:])]
                with m.If(self.o_reply.ready):
                    m.next = "CYCLES_LOW"

            with m.State("CYCLES_LOW"):
                m.d.comb += [self.o_reply.payload.eq(cycles[:16])]
                with m.If(self.o_reply.ready):
                    goto("IDLE", "CYCLES_LOW")

            with m.State("IDENTIFY_STATUS"):
                m.d.comb += [
                    self.o_reply.payload.eq(status(Opcode.IDENTIFY, Status.OK)),
                ]
                with m.If(self.o_reply.ready):
                    m.next = "IDENTIFY_HASH"

            with m.State("IDENTIFY_HASH"):
                m.d.comb += [self.o_reply.payload.eq(cfg.config_hash)]
                with m.If(self.o_reply.ready):
                    m.next = "IDENTIFY_VERSION"

            with m.State("IDENTIFY_VERSION"):
                m.d.comb += [self.o_reply.payload.eq(DESIGN_VERSION)]
                with m.If(self.o_reply.ready):
                    goto("IDLE", "IDENTIFY_VERSION")

        # One flip-flop a state: every state decode on the sequencer's paths (its own next
        # state, the loaders' enables) is then a flip-flop instead of a 6-bit comparison.
        # Yosys re-encodes the state register and drops its initial value, so the core must
        # see a reset before its first command (every board top holds it in reset at power-up).
        sequencer.state.attrs["fsm_encoding"] = "one-hot"

        return m
