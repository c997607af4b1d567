"""The adaptation demo (``eftrain train``, ``make demo``): a model trained elsewhere keeps
learning on the device.

1. Pre-train the CNN of issue 5 (conv 3x3 x8, pool, conv 3x3 x16, pool, FC 10) on upright
   8x8 digits with the oracle backend (the "cloud"; cached under the output directory,
   keyed by its settings, so a second demo skips it).
2. Move to the shifted domain (``eftrain.digits``: a sensor mounted 2 pixels off-centre),
   where the pre-trained model does poorly.
3. Adapt on the device: train only the last layers (``conv2``, ``fc1``) with the ``rtl``
   backend (``eftrain_top`` under Verilator). Every step also runs on the oracle from the
   same weights, and the losses, logits and weights are compared bit for bit.
4. Report the accuracy on held-out shifted digits before and after, the core's cycles and
   MAC utilisation per step, the time per step projected at 100 and 200 MHz, and save a
   plot of loss and accuracy.

Accuracy is measured with the oracle backend's ``predict`` on the device's weights: the
two backends' forwards are bit-identical (the very thing every step checks), and the
oracle runs the whole test split at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from eftrain import digits, fp32
from eftrain.config import HwConfig
from eftrain.network import FC, Conv, MaxPool, Network
from eftrain.trainer import BACKENDS, Trainer

#: The layers the device retrains; conv1's low-level stroke detectors stay as pre-trained.
ADAPTED_LAYERS = ("conv2", "fc1")
#: A small core: quick to build, and the demo's layers have at most 16 channels anyway.
DEFAULT_HW = HwConfig(tm=4, tn=4, ib_depth=512, ob_depth=512, wb_depth=256)
PLOT_FILE = "adaptation.png"
SUMMARY_FILE = "summary.json"
ADAPTED_WEIGHTS_FILE = "adapted.npz"
QUIET_SIMULATOR_ENV = {"COCOTB_LOG_LEVEL": "ERROR", "GPI_LOG_LEVEL": "WARNING",
                       "PYTHONWARNINGS": "ignore::DeprecationWarning"}
CLOCKS_HZ = (100e6, 200e6)
PROGRESS_WIDTH = 24
# Bump when the pre-training recipe changes in a way its settings do not show.
PRETRAIN_RECIPE = 1


def build_network() -> Network:
    """The network of issue 5, on 1x8x8 digits."""
    return Network(input_shape=digits.IMAGE_SHAPE, layers=[
        Conv(8, k=3, stride=1, pad=1, relu=True), MaxPool(),
        Conv(16, k=3, stride=1, pad=1, relu=True), MaxPool(),
        FC(digits.CLASSES)])


@dataclass(frozen=True)
class DemoSettings:
    """Everything that decides what the demo does. The defaults fit in five minutes on a
    2-core machine, the first Verilator build of the core included."""

    steps: int = 30              # adaptation steps on the device
    batch: int = 16
    lr: float = 0.08
    backend: str = "rtl"         # where the adaptation runs: "rtl" (checked against the oracle) or "oracle"
    hw: HwConfig = DEFAULT_HW
    out_dir: Path = Path("build/demo")
    seed: int = 0                # data split, weight initialisation, batch order
    pretrain_steps: int = 600
    pretrain_batch: int = 32
    pretrain_lr: float = 0.2     # for the first two thirds, then a quarter of it

    def __post_init__(self) -> None:
        for name, low in (("steps", 1), ("batch", 1), ("pretrain_steps", 0), ("pretrain_batch", 1),
                          ("seed", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"DemoSettings.{name} must be an int >= {low}, got {value!r}")
        for name in ("lr", "pretrain_lr"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
                raise ValueError(f"DemoSettings.{name} must be a positive number, got {value!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"DemoSettings.backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if not isinstance(self.hw, HwConfig):
            raise ValueError(f"DemoSettings.hw must be an eftrain.HwConfig, got {self.hw!r}")


@dataclass
class StepRecord:
    step: int
    loss: float
    bit_exact: bool | None       # None: nothing to compare with (oracle backend)
    mismatches: list[str]
    accuracy_shifted: float
    accuracy_original: float
    busy_cycles: int | None
    mac_utilisation: float | None
    seconds: float


@dataclass
class DemoResult:
    settings: dict
    accuracy_shifted_before: float
    accuracy_original_before: float
    steps: list[StepRecord] = field(default_factory=list)
    core_stats: dict | None = None      # trainer.stats of the last step (rtl backend)
    timings: dict[str, float] = field(default_factory=dict)
    pretrain_cached: bool = False
    plot: str = ""

    @property
    def accuracy_shifted_after(self) -> float:
        return self.steps[-1].accuracy_shifted

    @property
    def accuracy_original_after(self) -> float:
        return self.steps[-1].accuracy_original

    @property
    def bit_exact_steps(self) -> int:
        return sum(1 for s in self.steps if s.bit_exact)

    def to_json(self) -> dict:
        return {**asdict(self), "accuracy_shifted_after": self.accuracy_shifted_after,
                "accuracy_original_after": self.accuracy_original_after,
                "bit_exact_steps": self.bit_exact_steps}


# ---- helpers --------------------------------------------------------------------------------


def accuracy(trainer: Trainer, x: np.ndarray, labels: np.ndarray) -> float:
    """Share of ``x`` whose largest logit is the label."""
    return float(np.mean(trainer.predict(x).argmax(axis=1) == labels))


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and np.array_equal(fp32.bits(a), fp32.bits(b))


def compare_step(loss: float, logits: np.ndarray, weights: Mapping[str, np.ndarray],
                 ref_loss: float, ref_logits: np.ndarray, ref_weights: Mapping[str, np.ndarray]) -> list[str]:
    """What differs, bit for bit, between a device step and the oracle's: an empty list
    when the losses (float64 host values), the logits and every layer's weights agree."""
    diffs = []
    if np.float64(loss).view(np.uint64) != np.float64(ref_loss).view(np.uint64):
        diffs.append("loss")
    if not _same_bits(logits, ref_logits):
        diffs.append("logits")
    diffs += [f"{name} weights" for name in ref_weights if not _same_bits(weights[name], ref_weights[name])]
    return diffs


def progress_bar(done: int, total: int, width: int = PROGRESS_WIDTH) -> str:
    filled = width * done // total
    return "[" + "#" * filled + "." * (width - filled) + "]"


def check_settings(settings: DemoSettings, data: digits.DigitSplits | None = None) -> None:
    """Refuse, before any work, batches the data splits or the core cannot take
    (ValueError naming the field)."""
    data = digits.load_splits(settings.seed) if data is None else data
    net = build_network()
    for name, batch, split, trainable in (
            ("pretrain_batch", settings.pretrain_batch, "pre-training", None),
            ("batch", settings.batch, "adapt", ADAPTED_LAYERS)):
        size = len(data.pretrain_y if name == "pretrain_batch" else data.adapt_y)
        if batch > size:
            raise ValueError(f"DemoSettings.{name} must be at most {size} (the {split} split), got {batch}")
        try:
            net.lower(batch=batch, hw=settings.hw, trainable=trainable)
        except ValueError as exc:
            raise ValueError(f"DemoSettings.{name}={batch} on TM=TN={settings.hw.tn}, IB/OB "
                             f"{settings.hw.ib_depth}/{settings.hw.ob_depth}, WB {settings.hw.wb_depth}: "
                             f"{exc}") from None


def _pretrain_key(settings: DemoSettings, net: Network) -> str:
    # The exact mode's results depend on the reduction width TN only (docs/numerics.md,
    # section 2), so the buffer depths do not invalidate the cache.
    recipe = {"recipe": PRETRAIN_RECIPE, "network": net.summary(), "tn": settings.hw.tn,
              "seed": settings.seed, "steps": settings.pretrain_steps, "batch": settings.pretrain_batch,
              "lr": settings.pretrain_lr, "pretrain_share": digits.PRETRAIN_SHARE,
              "test_share": digits.TEST_SHARE}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def pretrain(settings: DemoSettings, net: Network, data: digits.DigitSplits,
             log: Callable[[str], None] = print) -> tuple[dict[str, np.ndarray], bool]:
    """Weights pre-trained on the upright digits with the oracle backend, from the cache
    when it has them. Returns (weights, whether they came from the cache)."""
    cache = Path(settings.out_dir) / f"pretrained-{_pretrain_key(settings, net)}.npz"
    if cache.exists():
        with np.load(cache) as stored:
            return {name: stored[name] for name in stored.files}, True
    trainer = Trainer(net, batch=settings.pretrain_batch, backend="oracle", hw=settings.hw,
                      seed=settings.seed)
    order = digits.batches(len(data.pretrain_y), settings.pretrain_batch,
                           np.random.default_rng([settings.seed, 1]))
    decay_from = settings.pretrain_steps * 2 // 3
    report_every = max(1, settings.pretrain_steps // 6)
    for step in range(settings.pretrain_steps):
        lr = settings.pretrain_lr if step < decay_from else settings.pretrain_lr / 4
        pick = next(order)
        loss = trainer.step(data.pretrain_x[pick], data.pretrain_y[pick], lr=lr)
        if (step + 1) % report_every == 0 or step + 1 == settings.pretrain_steps:
            log(f"  pre-training {progress_bar(step + 1, settings.pretrain_steps)} "
                f"{step + 1}/{settings.pretrain_steps}  loss {loss:.4f}")
    weights = trainer.get_weights()
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp.npz")
    np.savez(tmp, **weights)
    tmp.replace(cache)  # a demo interrupted while saving leaves no half-written cache
    return weights, False


# ---- the demo -------------------------------------------------------------------------------


def run(settings: DemoSettings, log: Callable[[str], None] = print) -> DemoResult:
    """Run the demo, print as it goes, write the plot and ``summary.json`` to
    ``settings.out_dir``, and return the numbers."""
    started = time.monotonic()
    hw = settings.hw
    out_dir = Path(settings.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    net = build_network()
    data = digits.load_splits(settings.seed)
    check_settings(settings, data)
    shifted_adapt = digits.sensor_shift(data.adapt_x)
    shifted_test = digits.sensor_shift(data.test_x)
    log(f"EF-Train adaptation demo: 8x8 digits, sensor shifted {digits.SHIFT_PIXELS} pixels right; "
        f"core TM=TN={hw.tn} (IB/OB {hw.ib_depth}/{hw.ob_depth} pixels, WB {hw.wb_depth}), seed {settings.seed}")
    log(net.summary())
    log(f"data: {len(data.pretrain_y)} digits to pre-train on, {len(data.adapt_y)} to adapt on, "
        f"{len(data.test_y)} held out for testing")

    log(f"1. pre-training on upright digits with the oracle: {settings.pretrain_steps} steps of "
        f"{settings.pretrain_batch}, lr {settings.pretrain_lr:g}")
    weights, cached = pretrain(settings, net, data, log)
    t_pretrained = time.monotonic()
    if cached:
        log("  (cached from an earlier run with the same settings)")
    evaluator = Trainer(net, batch=settings.batch, backend="oracle", hw=hw, seed=settings.seed)
    evaluator.set_weights(weights)
    result = DemoResult(settings={**asdict(settings), "hw": asdict(hw), "out_dir": str(out_dir)},
                        accuracy_shifted_before=accuracy(evaluator, shifted_test, data.test_y),
                        accuracy_original_before=accuracy(evaluator, data.test_x, data.test_y),
                        pretrain_cached=cached)
    log(f"  accuracy on held-out digits: upright {result.accuracy_original_before:.1%}, "
        f"shifted {result.accuracy_shifted_before:.1%}")

    where = ("the simulated core (rtl backend), every step checked bit for bit against the oracle"
             if settings.backend == "rtl" else "the oracle backend (no core simulated, nothing to check against)")
    log(f"2. adapting {' and '.join(ADAPTED_LAYERS)} to the shifted digits on {where}: "
        f"{settings.steps} steps of {settings.batch}, lr {settings.lr:g}")
    if settings.backend == "rtl":
        # The simulator's start-up chatter (GPI banners, cocotbext-axi's deprecation warnings
        # under cocotb 2) would bury the progress lines; its errors still show. The user's
        # own settings of these variables win.
        for name, value in QUIET_SIMULATOR_ENV.items():
            os.environ.setdefault(name, value)
        log("  building (first run only, about a minute) and starting the Verilator model of eftrain_top ...")
    device = Trainer(net, batch=settings.batch, backend=settings.backend, hw=hw, seed=settings.seed,
                     trainable=ADAPTED_LAYERS)
    t_started = time.monotonic()
    checker = None
    try:
        device.set_weights(weights)
        if settings.backend == "rtl":
            checker = Trainer(net, batch=settings.batch, backend="oracle", hw=hw, seed=settings.seed,
                              trainable=ADAPTED_LAYERS)
        order = digits.batches(len(data.adapt_y), settings.batch, np.random.default_rng([settings.seed, 2]))
        for step in range(1, settings.steps + 1):
            t_step = time.monotonic()
            pick = next(order)
            x, labels = shifted_adapt[pick], data.adapt_y[pick]
            if checker is not None:
                checker.set_weights(weights)  # the device's weights before this step
            loss = device.step(x, labels, lr=settings.lr)
            weights = device.get_weights()
            mismatches: list[str] = []
            if checker is not None:
                ref_loss = checker.step(x, labels, lr=settings.lr)
                mismatches = compare_step(loss, device.last_logits, weights,
                                          ref_loss, checker.last_logits, checker.get_weights())
            evaluator.set_weights(weights)
            total = device.stats["total"]
            record = StepRecord(
                step=step, loss=loss, bit_exact=None if checker is None else not mismatches,
                mismatches=mismatches,
                accuracy_shifted=accuracy(evaluator, shifted_test, data.test_y),
                accuracy_original=accuracy(evaluator, data.test_x, data.test_y),
                busy_cycles=total["busy_cycles"], mac_utilisation=total["mac_utilisation"],
                seconds=time.monotonic() - t_step)
            result.steps.append(record)
            verdict = ("-" if record.bit_exact is None else
                       "bit-exact" if record.bit_exact else "MISMATCH: " + ", ".join(mismatches))
            log(f"  step {step:{len(str(settings.steps))}d}/{settings.steps} {progress_bar(step, settings.steps)} "
                f"loss {loss:7.4f}  shifted acc {record.accuracy_shifted:6.1%}  "
                f"RTL vs oracle: {verdict}  ({record.seconds:.1f} s)")
        result.core_stats = device.stats if settings.backend == "rtl" else None
    finally:
        device.close()
    t_adapted = time.monotonic()
    np.savez(out_dir / ADAPTED_WEIGHTS_FILE, **weights)
    result.timings = {"pretrain_s": t_pretrained - started, "simulator_start_s": t_started - t_pretrained,
                      "adaptation_s": t_adapted - t_started}
    result.plot = str(save_plot(result, out_dir / PLOT_FILE))
    result.timings["total_s"] = time.monotonic() - started
    (out_dir / SUMMARY_FILE).write_text(json.dumps(result.to_json(), indent=1, default=str))
    for line in report_lines(result):
        log(line)
    return result


def report_lines(result: DemoResult) -> list[str]:
    """The closing summary."""
    s = result.settings
    lines = ["3. result",
             f"  accuracy on the held-out shifted digits: "
             f"{result.accuracy_shifted_before:.1%} before -> {result.accuracy_shifted_after:.1%} after "
             f"{len(result.steps)} steps on the device",
             f"  (upright digits: {result.accuracy_original_before:.1%} -> {result.accuracy_original_after:.1%}; "
             "only the shifted sensor is trained on)"]
    if s["backend"] == "rtl":
        lines.append(f"  bit-exact steps: {result.bit_exact_steps}/{len(result.steps)} "
                     "(loss, logits and every layer's weights equal to the oracle's exact mode)")
        cycles = [r.busy_cycles for r in result.steps]
        mean_cycles = float(np.mean(cycles))
        stats = result.core_stats
        total = stats["total"]
        lines.append(f"  core cycles per step (batch {s['batch']}, TM=TN={s['hw']['tn']}): {mean_cycles:,.0f} "
                     f"(forward chain {stats['forward']['busy_cycles']:,}, backward and update "
                     f"{stats['backward']['busy_cycles']:,}), MAC utilisation {total['mac_utilisation']:.1%}, "
                     f"DRAM {total['dram_bytes_read'] / 1e3:,.1f} kB read, "
                     f"{total['dram_bytes_written'] / 1e3:,.1f} kB written")
        lines.append("  projected core time per step: " + ", ".join(
            f"{mean_cycles / hz * 1e3:.3f} ms at {hz / 1e6:.0f} MHz" for hz in CLOCKS_HZ)
            + " (the host's softmax and doorbells not included)")
    else:
        lines.append("  cycles and MAC utilisation are measured on the simulated core: run with --backend rtl")
    t = result.timings
    lines.append(f"  run time {t['total_s']:.0f} s: pre-training {t['pretrain_s']:.0f} s"
                 f"{' (cached)' if result.pretrain_cached else ''}, core build and start "
                 f"{t['simulator_start_s']:.0f} s, adaptation {t['adaptation_s']:.0f} s")
    out_dir = Path(result.plot).parent
    lines.append(f"  plot: {result.plot}; numbers: {out_dir / SUMMARY_FILE}; "
                 f"adapted weights: {out_dir / ADAPTED_WEIGHTS_FILE}")
    return lines


def save_plot(result: DemoResult, path: Path) -> Path:
    """Loss per step and accuracy on the held-out digits (step 0: the pre-trained model)."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on the machines this runs on
    import matplotlib.pyplot as plt

    steps = [r.step for r in result.steps]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4.4))
    ax_loss.plot(steps, [r.loss for r in result.steps], marker=".")
    ax_loss.set(xlabel="adaptation step", ylabel="training loss (softmax cross-entropy)",
                title=f"loss on the device's batches ({result.settings['backend']} backend)")
    ax_acc.plot([0, *steps], [100 * result.accuracy_shifted_before, *(100 * r.accuracy_shifted for r in result.steps)],
                marker=".", label="shifted sensor (adapted to)")
    ax_acc.plot([0, *steps], [100 * result.accuracy_original_before, *(100 * r.accuracy_original for r in result.steps)],
                marker=".", linestyle="--", label="upright (pre-training domain)")
    ax_acc.set(xlabel="adaptation step", ylabel="accuracy on held-out digits (%)", ylim=(0, 100),
               title="accuracy")
    ax_acc.legend(loc="lower right")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
    s = result.settings
    title = (f"Adapting to a {digits.SHIFT_PIXELS}-pixel sensor shift, batch {s['batch']}, lr {s['lr']:g}\n")
    if s["backend"] == "rtl":
        title += (f"eftrain_top (TM=TN={s['hw']['tn']}) under Verilator, "
                  f"{result.bit_exact_steps}/{len(result.steps)} steps bit-exact with the oracle")
    else:
        title += "oracle backend"
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


if __name__ == "__main__":
    from eftrain.cli import main

    sys.exit(main(["train", *sys.argv[1:]]))
