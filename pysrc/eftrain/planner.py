"""The tiling planner: for every layer and phase of a training step, the ``tile_rows``
the descriptor carries, chosen with the performance model (:mod:`eftrain.perfmodel`),
and the predicted cycles, MAC utilisation and GFLOPS (``eftrain plan``).

A training step runs, per layer: FP (CONV_FP or POOL_FP), BP (CONV_BP or POOL_BP; not for
the first layer, whose input needs no gradient) and WU (CONV_WU for layers with weights).
The planner tries every row count that gives a distinct tiling and fits the buffers
(:func:`eftrain.descriptor.tile_fits`), and keeps the fastest; ties go to the larger tile.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from eftrain import descriptor as dsc
from eftrain.boards import Board
from eftrain.config import HwConfig
from eftrain.descriptor import Descriptor, Opcode
from eftrain.network import FC, Conv, MaxPool, Network
from eftrain.perfmodel import Dram, Prediction, predict

PHASES = ("FP", "BP", "WU")


@dataclass(frozen=True)
class PlannedOp:
    """One layer in one phase: its descriptor fields (addresses 0) and the prediction, or
    ``misfit``, why the core cannot run it."""

    layer: str
    phase: str
    opcode: Opcode
    desc: Descriptor | None
    prediction: Prediction | None
    misfit: str | None = None

    @property
    def macs(self) -> int:
        d = self.desc
        if d is None or self.opcode in (Opcode.POOL_FP, Opcode.POOL_BP):
            return 0
        ho, wo = d.out_hw
        return d.batch * d.m * d.n * d.k * d.k * ho * wo


@dataclass(frozen=True)
class Plan:
    """A planned training step."""

    net: str
    batch: int
    cfg: HwConfig
    board: Board
    dram: Dram
    clock_mhz: float
    ops: tuple[PlannedOp, ...]

    @property
    def runnable(self) -> tuple[PlannedOp, ...]:
        return tuple(op for op in self.ops if op.prediction is not None)

    def total_cycles(self, phase: str | None = None) -> int:
        return sum(op.prediction.cycles for op in self.runnable if phase in (None, op.phase))

    def total_macs(self, phase: str | None = None) -> int:
        return sum(op.macs for op in self.runnable if phase in (None, op.phase))

    def utilisation(self, phase: str | None = None) -> float:
        cycles = self.total_cycles(phase)
        return self.total_macs(phase) / (cycles * self.cfg.tm * self.cfg.tn) if cycles else 0.0

    def gflops(self, cycles: int, macs: int) -> float:
        return 2 * macs / (cycles / (self.clock_mhz * 1e6)) / 1e9 if cycles else 0.0


def tile_options(opcode: Opcode, k: int, stride: int, pad: int, n: int, m: int, h: int, w: int,
                 cfg: HwConfig) -> list[int]:
    """Every ``tile_rows`` that fits and gives a distinct tiling (the largest row count for
    each number of tiles), largest first."""
    out_h = h if opcode == Opcode.CONV_BP else dsc.out_hw(h, w, k, stride, pad)[0]
    options = []
    for tiles in range(1, out_h + 1):
        rows = math.ceil(out_h / tiles)
        if options and rows == options[-1]:
            continue
        if dsc.tile_fits(opcode, k, stride, pad, n, m, h, w, rows, cfg):
            options.append(rows)
    return options


def plan_descriptor(desc: Descriptor, cfg: HwConfig, dram: Dram, axi_data_bytes: int
                    ) -> tuple[Descriptor, Prediction]:
    """``desc`` with the fastest ``tile_rows`` and its prediction; ValueError if no tiling
    fits."""
    op = Opcode(desc.opcode)
    if op in (Opcode.POOL_FP, Opcode.POOL_BP):
        options = [1] if dsc.tile_fits(op, desc.k, desc.stride, desc.pad, desc.n, desc.m, desc.h,
                                       desc.w, 1, cfg) else []
    else:
        options = tile_options(op, desc.k, desc.stride, desc.pad, desc.n, desc.m, desc.h, desc.w, cfg)
    if not options:
        raise ValueError(dsc.tile_misfit(op, desc.k, desc.stride, desc.pad, desc.n, desc.m, desc.h,
                                         desc.w, 1, cfg) or "no tiling fits")
    best = None
    for rows in options:
        candidate = dataclasses.replace(desc, tile_rows=rows)
        p = predict(candidate, cfg, dram, axi_data_bytes)
        if best is None or p.cycles < best[1].cycles:
            best = (candidate, p)
    return best


@dataclass(frozen=True)
class LayerSpec:
    """One layer as the core runs it: ``kind`` conv (FC included, as the convolution of
    docs/architecture.md) or pool; input ``n`` x ``h`` x ``w``; ``m`` outputs."""

    name: str
    kind: str
    n: int
    h: int
    w: int
    m: int
    k: int = 2
    stride: int = 2
    pad: int = 0


def specs_of(net: Network) -> list[LayerSpec]:
    """The layers of a :class:`Network` as the core runs them."""
    out = []
    for info in net.info:
        n, h, w = info.hw_in
        if isinstance(info.layer, MaxPool):
            out.append(LayerSpec(info.name, "pool", n, h, w, n))
        else:
            out.append(LayerSpec(info.name, "conv", n, h, w, info.hw_out[0], info.k, info.stride, info.pad))
    return out


def plan_network(name: str, layers: list[LayerSpec], batch: int, cfg: HwConfig, board: Board, dram: Dram,
                 clock_mhz: float, axi_data_bytes: int) -> Plan:
    """Plan one training step (every layer trained) of ``layers``."""
    ops = []
    for index, spec in enumerate(layers):
        pool = spec.kind == "pool"
        phases = [("FP", Opcode.POOL_FP if pool else Opcode.CONV_FP)]
        if index:
            phases.append(("BP", Opcode.POOL_BP if pool else Opcode.CONV_BP))
        if not pool:
            phases.append(("WU", Opcode.CONV_WU))
        for phase, opcode in phases:
            desc = Descriptor(opcode=opcode, k=spec.k, stride=spec.stride, pad=spec.pad, batch=batch,
                              tile_rows=1, n=spec.n, m=spec.m, h=spec.h, w=spec.w)
            misfit = prediction = None
            if max(spec.n, spec.m, spec.h, spec.w, batch) > dsc.MAX_DIM:
                misfit = f"a dimension over {dsc.MAX_DIM} (n {spec.n}, m {spec.m}): split the layer"
            elif not pool and spec.k > cfg.kmax:
                misfit = f"k = {spec.k} exceeds KMAX ({cfg.kmax})"
            else:
                try:
                    desc, prediction = plan_descriptor(desc, cfg, dram, axi_data_bytes)
                except ValueError as err:
                    misfit = str(err)
            ops.append(PlannedOp(spec.name, phase, opcode, desc, prediction, misfit))
    return Plan(name, batch, cfg, board, dram, clock_mhz, tuple(ops))


# --------------------------------------------------------------------------------------
# The networks `eftrain plan --net` knows.
# --------------------------------------------------------------------------------------


def _vgg16(size: int, fcs: list[int]) -> list[LayerSpec]:
    """VGG-16's 13 3x3 convolutions and 5 pools on 3 x size x size images, then FCs."""
    layers, c, convs, pools = [], 3, 0, 0
    for m, count in [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]:
        for _ in range(count):
            convs += 1
            layers.append(LayerSpec(f"conv{convs}", "conv", c, size, size, m, 3, 1, 1))
            c = m
        pools += 1
        layers.append(LayerSpec(f"pool{pools}", "pool", c, size, size, c))
        size //= 2
    for i, m in enumerate(fcs, 1):
        layers.append(LayerSpec(f"fc{i}", "conv", c, size, size, m, size, 1, 0))
        c, size = m, 1
    return layers


def vgg16() -> list[LayerSpec]:
    """VGG-16 on 3x224x224 ImageNet images: 13 convolutions, 5 pools, FC 4096, 4096, 1000."""
    return _vgg16(224, [4096, 4096, 1000])


def vgg16_cifar() -> list[LayerSpec]:
    """VGG-16 on 3x32x32 CIFAR-10 images: the 13 convolutions and 5 pools, then FC 10."""
    return _vgg16(32, [10])


def lenet() -> list[LayerSpec]:
    """LeNet-5 on 1x32x32 images: conv 6 5x5, pool, conv 16 5x5, pool, FC 120, 84, 10."""
    return specs_of(Network((1, 32, 32), [Conv(6, k=5, relu=True), MaxPool(), Conv(16, k=5, relu=True),
                                          MaxPool(), FC(120, relu=True), FC(84, relu=True), FC(10)]))


def demo_net() -> list[LayerSpec]:
    """The network of the adaptation demo (eftrain train)."""
    from eftrain.demo import build_network
    return specs_of(build_network())


NETS = {"vgg16": vgg16, "vgg16-cifar": vgg16_cifar, "lenet": lenet, "demo": demo_net}


# --------------------------------------------------------------------------------------
# Reports.
# --------------------------------------------------------------------------------------


def report(plan: Plan) -> str:
    """The plan as a table: per layer and phase the tiling, predicted cycles, MAC
    utilisation, roofline efficiency and GFLOPS; then the totals per phase."""
    cfg = plan.cfg
    lines = [f"{plan.net}, batch {plan.batch}, on {plan.board.name} ({plan.board.part}): "
             f"{cfg.tm}x{cfg.tn} array, KMAX {cfg.kmax}, IB/OB {cfg.ib_depth}/{cfg.ob_depth}, "
             f"WB {cfg.wb_depth}, {plan.clock_mhz:g} MHz, DRAM {plan.dram.bytes_per_cycle:.1f} B/cycle "
             f"each way, latency {plan.dram.latency} cycles",
             f"{'layer':8s} {'phase':5s} {'opcode':8s} {'rows':>4s} {'cycles':>12s} {'MAC util':>8s} "
             f"{'roofline':>8s} {'GFLOPS':>7s}"]
    for op in plan.ops:
        if op.prediction is None:
            lines.append(f"{op.layer:8s} {op.phase:5s} {op.opcode.name:8s}  does not fit: {op.misfit}")
            continue
        p = op.prediction
        roof = p.roofline_cycles / p.cycles if p.cycles else 0.0
        lines.append(f"{op.layer:8s} {op.phase:5s} {op.opcode.name:8s} {op.desc.tile_rows:4d} {p.cycles:12,d} "
                     f"{100 * p.mac_utilisation:7.1f}% {100 * roof:7.1f}% "
                     f"{plan.gflops(p.cycles, op.macs):7.2f}")
    lines.append("")
    peak = 2 * cfg.tm * cfg.tn * plan.clock_mhz / 1e3
    for phase in (*PHASES, None):
        cycles, macs = plan.total_cycles(phase), plan.total_macs(phase)
        lines.append(f"{phase or 'total':5s} {cycles:14,d} cycles  {cycles / (plan.clock_mhz * 1e3):9.2f} ms  "
                     f"MAC utilisation {100 * plan.utilisation(phase):5.1f}%  "
                     f"{plan.gflops(cycles, macs):6.2f} GFLOPS of {peak:.1f}")
    skipped = [f"{op.layer} {op.phase}" for op in plan.ops if op.prediction is None]
    if skipped:
        lines.append(f"not in the totals (they do not fit this configuration): {', '.join(skipped)}")
    return "\n".join(lines)


#: EF-Train on the ZCU102 (ACM TODAES 2022): a 16 x 16 fp32 array at 100 MHz, VGG-16
#: with batch normalisation, 224 x 224, batch 2.
EF_TRAIN_GFLOPS = 46.99


def resource_fit(cfg: HwConfig, axi_bits: int, board: Board) -> dict:
    """What the resource model (:mod:`eftrain.resources`, calibrated on Yosys runs) says
    the core of ``cfg`` with an ``axi_bits`` master uses of ``board``: the counts, the
    fraction of each resource, ``fits`` (no resource over 100 %) and ``buildable``
    (LUTs and DSPs under the integration's limit, :data:`eftrain.integration.FIT_LIMIT`,
    which leaves room for routing; block RAMs and UltraRAMs fitting). The input and output
    buffers are where the board's block design puts them
    (:func:`eftrain.integration.buffer_uram`: UltraRAM on the ZCU104)."""
    from eftrain import integration, resources

    buffer_uram = integration.buffer_uram(board)
    est = resources.estimate(cfg, axi_bits=axi_bits, buffer_uram=buffer_uram)
    use = est.use(board)
    return {"lut": est.lut, "ff": est.ff, "dsp": est.dsp, "bram36": est.bram36, "uram": est.uram,
            "buffer_uram": buffer_uram, "use": use,
            "limit": integration.FIT_LIMIT, "fits": all(v <= 1.0 for v in use.values()),
            "buildable": use["lut"] < integration.FIT_LIMIT and use["dsp"] < integration.FIT_LIMIT
            and use["bram36"] <= 1.0 and use["uram"] <= 1.0}


def fit_verdict(fit: dict) -> str | None:
    """None for a buildable core, else why not, in one line."""
    if not fit["fits"]:
        over = ", ".join(f"{k} {v:.0%}" for k, v in fit["use"].items() if v > 1)
        return f"DOES NOT FIT the board ({over})"
    if not fit["buildable"]:
        over = ", ".join(f"{k} {fit['use'][k]:.0%}" for k in ("lut", "dsp") if fit["use"][k] >= fit["limit"])
        return f"over the {fit['limit']:.0%} of LUTs and DSPs a core can use and still route ({over})"
    return None


def fit_report(fit: dict, board: Board) -> str:
    """One paragraph: the resource model's counts against ``board`` and whether they fit."""
    use = fit["use"]
    line = (f"resource model on the {board.name}: LUT {fit['lut']:,} ({use['lut']:.1%}), "
            f"FF {fit['ff']:,} ({use['ff']:.1%}), DSP {fit['dsp']:,} ({use['dsp']:.1%}), "
            f"BRAM36 {fit['bram36']:g} ({use['bram36']:.1%})"
            + (f", URAM288 {fit['uram']} ({use['uram']:.1%}; IB and OB in UltraRAM)" if fit.get("buffer_uram") else ""))
    verdict = fit_verdict(fit)
    if verdict:
        line += f"\n*** {verdict}: this array cannot be built on this board; the figures above are not reachable ***"
    return line + f"\n(EF-Train, VGG-16 224x224 batch 2 on the ZCU102, 16x16 at 100 MHz: {EF_TRAIN_GFLOPS} GFLOPS)"


def to_json(plan: Plan) -> dict:
    """The plan as plain data (``eftrain plan --json``)."""
    cfg = plan.cfg
    ops = []
    for op in plan.ops:
        entry = {"layer": op.layer, "phase": op.phase, "opcode": op.opcode.name}
        if op.prediction is None:
            entry["misfit"] = op.misfit
        else:
            p = op.prediction
            entry.update(tile_rows=op.desc.tile_rows, cycles=p.cycles, macs=op.macs,
                         mac_utilisation=p.mac_utilisation,
                         roofline_cycles=p.roofline_cycles, read_bytes=p.read_bytes,
                         write_bytes=p.write_bytes, gflops=plan.gflops(p.cycles, op.macs))
        ops.append(entry)
    totals = {phase or "total": {"cycles": plan.total_cycles(phase), "macs": plan.total_macs(phase),
                                 "mac_utilisation": plan.utilisation(phase),
                                 "gflops": plan.gflops(plan.total_cycles(phase), plan.total_macs(phase))}
              for phase in (*PHASES, None)}
    return {"net": plan.net, "batch": plan.batch, "board": plan.board.name, "clock_mhz": plan.clock_mhz,
            "config": {"tm": cfg.tm, "tn": cfg.tn, "kmax": cfg.kmax, "ib_depth": cfg.ib_depth,
                       "ob_depth": cfg.ob_depth, "wb_depth": cfg.wb_depth},
            "dram": {"latency": plan.dram.latency, "bytes_per_cycle": plan.dram.bytes_per_cycle},
            "ops": ops, "totals": totals}
