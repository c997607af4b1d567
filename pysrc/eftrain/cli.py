"""Command line: ``eftrain <command>`` (also ``python -m eftrain.cli``).

Commands:
  train   the adaptation demo (`make demo`): pre-train a small CNN on 8x8 digits with the
          oracle, then retrain its last layers on the simulated core for digits seen
          through a shifted sensor, every step checked bit for bit against the oracle
          (eftrain.demo).
  plan    the tiling of every layer and phase of a training step, chosen with the
          performance model, with predicted cycles, MAC utilisation and GFLOPS
          (eftrain.planner).
  demo    one training step of a small CNN with the oracle, in exact (fp32, bit-exact
          model of the core) and reference (float64) mode, printed layer by layer.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from eftrain import HwConfig, oracle


def _max_rel_diff(exact: np.ndarray, reference: np.ndarray) -> float:
    scale = np.maximum(np.abs(reference).max(), np.finfo(np.float64).tiny)
    return float(np.abs(exact.astype(np.float64) - reference).max() / scale)


def training_step(x, labels, weights, lr, cfg):
    """One SGD step of conv(3x3, pad 1) -> ReLU -> max-pool -> FC with the oracle.

    ``cfg=None`` runs the reference mode, a ``HwConfig`` the exact mode. Returns the loss,
    the updated weights, and the intermediate tensors for printing.
    """
    w_conv, w_fc = weights
    y = oracle.conv_fp(x, w_conv, stride=1, pad=1, cfg=cfg)
    a = oracle.relu_fp(y)
    p, idx = oracle.maxpool_fp(a)
    flat = p.reshape(p.shape[0], -1)
    logits = oracle.fc_fp(flat, w_fc, cfg=cfg)
    loss, dlogits = oracle.softmax_xent(logits, labels)
    dw_fc = oracle.fc_wu(flat, dlogits, cfg=cfg)
    dflat = oracle.fc_bp(dlogits, w_fc, cfg=cfg)
    dp = dflat.reshape(p.shape)
    da = oracle.maxpool_bp(dp, idx, in_hw=a.shape[2:])
    dy = oracle.relu_bp(da, y)
    dw_conv = oracle.conv_wu(x, dy, k=w_conv.shape[2], stride=1, pad=1, cfg=cfg)
    new_weights = (oracle.sgd(w_conv, dw_conv, lr, cfg=cfg), oracle.sgd(w_fc, dw_fc, lr, cfg=cfg))
    tensors = {"conv1 y": y, "pool1 y": p, "logits": logits, "dlogits": dlogits,
               "fc1 dW": dw_fc, "conv1 dY": dy, "conv1 dW": dw_conv}
    return loss, new_weights, tensors


def demo(args: argparse.Namespace) -> int:
    cfg = HwConfig(tm=args.tn, tn=args.tn)
    rng = np.random.default_rng(args.seed)
    batch, channels, size, filters, classes = 4, 1, 8, 6, 10
    x = rng.standard_normal((batch, channels, size, size)).astype(np.float32)
    labels = rng.integers(0, classes, batch)
    weights = (
        (rng.standard_normal((filters, channels, 3, 3)) * 0.5).astype(np.float32),
        (rng.standard_normal((classes, filters * (size // 2) ** 2)) * 0.1).astype(np.float32),
    )
    print(f"EF-Train oracle demo: one training step, conv3x3({channels}->{filters}) -> ReLU -> "
          f"maxpool -> FC({classes}), batch {batch}, {size}x{size} inputs, lr {args.lr}, "
          f"TN={cfg.tn}, seed {args.seed}")
    loss_x, new_x, t_x = training_step(x, labels, weights, np.float32(args.lr), cfg)
    loss_r, new_r, t_r = training_step(x.astype(np.float64), labels,
                                       tuple(w.astype(np.float64) for w in weights), args.lr, None)
    print(f"{'tensor':10s} {'shape':>16s} {'exact dtype':>12s} {'max |value|':>12s} {'rel diff to float64':>20s}")
    for name in t_x:
        e, r = t_x[name], t_r[name]
        print(f"{name:10s} {str(e.shape):>16s} {str(e.dtype):>12s} {float(np.abs(e).max()):12.4g} "
              f"{_max_rel_diff(e, r):20.3g}")
    print(f"loss: exact {loss_x:.7f}, reference {loss_r:.7f}")
    for name, before, after, ref in zip(("conv1 W", "fc1 W"), weights, new_x, new_r):
        changed = int(np.count_nonzero(before != after))
        print(f"{name}: {changed}/{before.size} weights updated, max |update| "
              f"{float(np.abs(after - before).max()):.4g}, rel diff to float64 {_max_rel_diff(after, ref):.3g}")
    loss_after, _, _ = training_step(x, labels, new_x, np.float32(args.lr), cfg)
    print(f"loss after the step on the same batch: {loss_after:.7f} ({'lower' if loss_after < loss_x else 'NOT lower'})")
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (np.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text!r}")
    return value


def train(args: argparse.Namespace) -> int:
    from eftrain.demo import DemoSettings, check_settings, run

    # Bad options are usage errors (exit 2 with the message), found before any work starts.
    try:
        hw = HwConfig(tm=args.tm, tn=args.tn, ib_depth=args.ib_depth, ob_depth=args.ob_depth,
                      wb_depth=args.wb_depth)
        settings = DemoSettings(steps=args.steps, batch=args.batch, lr=args.lr, backend=args.backend, hw=hw,
                                out_dir=args.out, seed=args.seed, pretrain_steps=args.pretrain_steps)
        check_settings(settings)
    except ValueError as exc:
        args.parser.error(str(exc))
    result = run(settings)
    return 0 if settings.backend == "oracle" or result.bit_exact_steps == len(result.steps) else 1


def _add_train_parser(sub) -> None:
    from eftrain.demo import DEFAULT_HW, DemoSettings

    defaults = DemoSettings()
    p = sub.add_parser(
        "train", help="the adaptation demo: pre-train with the oracle, adapt on the simulated core",
        description="Pre-train a small CNN on upright 8x8 digits with the oracle, then retrain its last "
                    "layers (conv2, fc1) on the simulated core for digits seen through a sensor shifted "
                    "2 pixels, each step checked bit for bit against the oracle. Prints the accuracy "
                    "before and after, cycles, MAC utilisation and projected time per step; writes a "
                    "plot and summary.json. Exits 1 if any step was not bit-exact.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--steps", type=_positive_int, default=defaults.steps, help="adaptation steps")
    p.add_argument("--batch", type=_positive_int, default=defaults.batch, help="images per adaptation step")
    p.add_argument("--lr", type=_positive_float, default=defaults.lr, help="adaptation learning rate")
    p.add_argument("--backend", choices=("rtl", "oracle"), default=defaults.backend,
                   help="where the adaptation runs: the simulated core (checked against the oracle) "
                        "or the oracle alone (fast, no cycle counts)")
    p.add_argument("--tm", type=_positive_int, default=DEFAULT_HW.tm, help="core output lanes TM (= TN)")
    p.add_argument("--tn", type=_positive_int, default=DEFAULT_HW.tn, help="core reduction width TN")
    p.add_argument("--ib-depth", type=_positive_int, default=DEFAULT_HW.ib_depth,
                   help="input buffer pixels per half")
    p.add_argument("--ob-depth", type=_positive_int, default=DEFAULT_HW.ob_depth,
                   help="output buffer pixels per half")
    p.add_argument("--wb-depth", type=_positive_int, default=DEFAULT_HW.wb_depth,
                   help="weight buffer entries")
    p.add_argument("--pretrain-steps", type=_non_negative_int, default=defaults.pretrain_steps,
                   help="oracle pre-training steps (cached in the output directory)")
    p.add_argument("--out", type=Path, default=defaults.out_dir,
                   help="output directory: plot, summary.json, pre-training cache")
    p.add_argument("--seed", type=_non_negative_int, default=defaults.seed,
                   help="data split, initial weights and batch order")
    p.set_defaults(func=train, parser=p)


def plan(args: argparse.Namespace) -> int:
    import json

    from eftrain import boards, integration, planner
    from eftrain.perfmodel import Dram

    try:
        board = boards.board(args.board)
        # Defaults: the core of the board's block design (eftrain.integration).
        tn = integration.array_size(board) if args.tn is None else args.tn
        hw = HwConfig(tm=tn, tn=tn, kmax=args.kmax, ib_depth=args.ib_depth,
                      ob_depth=args.ob_depth, wb_depth=args.wb_depth)
        axi_bits = integration.axi_bits(hw.tn) if args.axi_bits is None else args.axi_bits
        if axi_bits % 32 or not 32 <= axi_bits <= 32 * hw.tn:
            raise ValueError(f"--axi-bits must be a multiple of 32 in 32..{32 * hw.tn} (TN * 32), "
                             f"got {axi_bits}")
        dram = Dram(latency=args.dram_latency,
                    bytes_per_cycle=args.dram_bytes_per_cycle or board.dram_bytes_per_cycle(args.clock_mhz))
    except ValueError as exc:
        args.parser.error(str(exc))
    result = planner.plan_network(args.net, planner.NETS[args.net](), args.batch, hw, board, dram,
                                  args.clock_mhz, axi_bits // 8)
    fit = planner.resource_fit(hw, axi_bits, board)
    if args.json:
        print(json.dumps({**planner.to_json(result), "resources": fit}, indent=1))
    else:
        print(planner.report(result))
        print(planner.fit_report(fit, board))
    verdict = planner.fit_verdict(fit)
    if verdict:
        # Loud, on stderr too, so a script that reads only the JSON still sees it.
        print(f"eftrain plan: WARNING: by the resource model, a {hw.tm}x{hw.tn} core is {verdict} "
              f"on the {board.name}; the figures above are for a core that cannot be built there",
              file=sys.stderr)
    return 0


def _add_plan_parser(sub) -> None:
    from eftrain import boards, integration, planner

    p = sub.add_parser(
        "plan", help="tiling, predicted cycles, MAC utilisation and GFLOPS of a training step",
        description="Plan one training step of a network on the core: for every layer and phase "
                    "(FP, BP, WU) the tile rows the descriptor carries, chosen with the performance "
                    "model, the predicted cycles, MAC utilisation, roofline efficiency and GFLOPS, "
                    "then the totals.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--net", choices=sorted(planner.NETS), default="vgg16-cifar", help="network")
    p.add_argument("--board", choices=sorted(boards.BOARDS), default="zcu102", help="board")
    p.add_argument("--batch", type=_positive_int, default=16, help="images per training step")
    p.add_argument("--tn", type=_positive_int, default=None,
                   help="array size TM = TN (default: the board's block design, the largest array that fits)")
    p.add_argument("--kmax", type=_positive_int, default=5, help="largest kernel (KMAX)")
    p.add_argument("--ib-depth", type=_positive_int, default=2048, help="input buffer pixels per half")
    p.add_argument("--ob-depth", type=_positive_int, default=2048, help="output buffer pixels per half")
    p.add_argument("--wb-depth", type=_positive_int, default=1024, help="weight buffer entries")
    p.add_argument("--axi-bits", type=_positive_int, default=None,
                   help="AXI data width of the core (default: the block design's, TN * 32 up to 512)")
    p.add_argument("--clock-mhz", type=_positive_float, default=integration.CORE_CLOCK_MHZ, help="core clock")
    p.add_argument("--dram-latency", type=_non_negative_int, default=30,
                   help="DRAM latency, core cycles from address to first data")
    p.add_argument("--dram-bytes-per-cycle", type=_positive_float, default=None,
                   help="DRAM bandwidth each way, bytes per core cycle (default: the board's HP port)")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.set_defaults(func=plan, parser=p)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="eftrain", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train_parser(sub)
    _add_plan_parser(sub)
    p_demo = sub.add_parser("demo", help="one oracle training step of a small CNN, printed")
    p_demo.add_argument("--seed", type=int, default=0)
    p_demo.add_argument("--lr", type=float, default=0.1)
    p_demo.add_argument("--tn", type=int, default=4, help="reduction width TN (= TM) of the modelled core")
    p_demo.set_defaults(func=demo)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
