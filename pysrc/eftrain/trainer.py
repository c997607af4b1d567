"""Train a :class:`~eftrain.network.Network` with the oracle or on the simulated core.

    tr = Trainer(net, batch=8, backend="oracle", hw=HwConfig(tm=4, tn=4), seed=0)
    loss = tr.step(x, labels, lr=0.05)     # x float32 [B, *input_shape], labels int [B]
    logits = tr.predict(x)                 # any number of images
    ws = tr.get_weights(); tr.set_weights(ws)
    tr.stats                               # of the last step

Both backends run the ops of :meth:`Network.lower` (the single definition of a training
step) and compute the loss on the host with ``oracle.softmax_xent``:

* ``backend="oracle"`` executes each op with :func:`run_op`, ``eftrain.oracle``'s exact
  mode, which *is* the meaning of the op (docs/numerics.md);
* ``backend="rtl"`` compiles the network (:mod:`eftrain.netcompile`) and runs the forward
  chain, then the backward-and-update chain, on ``eftrain_top`` under Verilator through a
  persistent :mod:`eftrain.ipsim` session; the weights stay in the simulated DRAM.

For the same seed, weights and data the two give bit-identical losses, logits and weights.
The update is ``w <- w - lr * dL/dw`` with ``lr`` rounded to fp32 (the descriptor field).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from eftrain import oracle
from eftrain.config import HwConfig
from eftrain.descriptor import Flag, Opcode, flags_allowed
from eftrain.network import HwOp, Lowering, Network

__all__ = ["Trainer", "run_op", "BACKENDS"]

BACKENDS = ("oracle", "rtl")

#: Keys of one chain's entry in :attr:`Trainer.stats`.
STAT_KEYS = ("macs", "busy_cycles", "mac_cycles", "mac_utilisation", "dram_bytes_read",
             "dram_bytes_written")


def _has(flags: int, flag: Flag) -> bool:
    return bool(flags >> flag & 1)


def run_op(op, operands: Mapping[str, np.ndarray], lr: float, hw: HwConfig) -> np.ndarray:
    """What the core writes for one op (an :class:`~eftrain.network.HwOp` or a
    :class:`~eftrain.descriptor.Descriptor`), computed by ``eftrain.oracle``'s exact mode.
    ``operands`` maps the address fields the op reads (``in_addr``, ``wgt_addr``,
    ``aux_addr``) to arrays in their [B,C,H,W] / [M,N,K,K] shapes; ``lr`` is the fused
    SGD's learning rate. Returns the tensor written at ``out_addr``."""
    opcode, flags = op.opcode, op.flags
    if opcode not in Opcode._value2member_map_:
        raise ValueError(f"run_op: opcode {opcode!r} is not an Opcode")
    if flags & ~flags_allowed(opcode):
        raise ValueError(f"run_op: flags {flags:#x} are not allowed for {Opcode(opcode).name}")
    src = operands["in_addr"]
    if opcode == Opcode.CONV_FP:
        y = oracle.conv_fp(src, operands["wgt_addr"], op.stride, op.pad, cfg=hw)
        return oracle.relu_fp(y) if _has(flags, Flag.RELU) else y
    if opcode == Opcode.CONV_BP:
        dx = oracle.conv_bp(src, operands["wgt_addr"], (op.h, op.w), op.stride, op.pad, cfg=hw)
        return oracle.relu_bp(dx, operands["aux_addr"]) if _has(flags, Flag.RELU_MASK) else dx
    if opcode == Opcode.CONV_WU:
        dw = oracle.conv_wu(src, operands["aux_addr"], op.k, op.stride, op.pad, cfg=hw)
        return oracle.sgd(operands["wgt_addr"], dw, lr, cfg=hw) if _has(flags, Flag.SGD) else dw
    if opcode == Opcode.POOL_FP:
        return oracle.maxpool_fp(src)[0]
    # POOL_BP: the argmax is recomputed from the pool's forward input, as the core does.
    x = operands["aux_addr"]
    dx = oracle.maxpool_bp(src, oracle.maxpool_fp(x)[1], (op.h, op.w))
    return oracle.relu_bp(dx, x) if _has(flags, Flag.RELU_MASK) else dx


def _chain_stats(ops: Sequence[HwOp], counters: Mapping[str, int] | None,
                 beat_bytes: int) -> dict:
    """One chain's statistics: the MACs its ops imply; with the core's counter deltas,
    busy and MAC cycles, MAC utilisation (MAC / busy cycles) and DRAM bytes moved."""
    stats = dict.fromkeys(STAT_KEYS)
    stats["macs"] = sum(op.macs for op in ops)
    if counters is not None:
        busy, mac = counters["busy"], counters["mac"]
        stats.update(busy_cycles=busy, mac_cycles=mac, mac_utilisation=mac / busy if busy else 0.0,
                     dram_bytes_read=counters["axi_rd_beats"] * beat_bytes,
                     dram_bytes_written=counters["axi_wr_beats"] * beat_bytes)
    return stats


def _total_stats(chains: Sequence[dict]) -> dict:
    total = dict.fromkeys(STAT_KEYS)
    for key in STAT_KEYS:
        if key != "mac_utilisation" and all(c[key] is not None for c in chains):
            total[key] = sum(c[key] for c in chains)
    if total["busy_cycles"] is not None:
        busy = total["busy_cycles"]
        total["mac_utilisation"] = total["mac_cycles"] / busy if busy else 0.0
    return total


# --------------------------------------------------------------------------------------
# Backends: forward to the logits, backward from dlogits, weights in and out. Weights
# here are the core's [M,N,K,K] arrays; inputs and logits are [B,C,H,W].
# --------------------------------------------------------------------------------------


class _OracleBackend:
    def __init__(self, lowering: Lowering, hw_weights: Mapping[str, np.ndarray]):
        self.lowering = lowering
        self.env: dict[str, np.ndarray] = {}  # every tensor of the lowering, by name
        self.set_weights(hw_weights)
        self.counters: dict[str, None] = {"forward": None, "backward": None}

    def _run(self, ops: Sequence[HwOp], env: dict[str, np.ndarray], lr: float) -> None:
        hw = self.lowering.hw
        for op in ops:
            operands = {f: env[t] for f, t in op.tensors.items() if f != "out_addr"}
            env[op.tensors["out_addr"]] = run_op(op, operands, lr, hw)

    def forward(self, x4: np.ndarray) -> np.ndarray:
        self.env[self.lowering.input] = x4
        self._run(self.lowering.forward, self.env, 0.0)
        return self.env[self.lowering.logits]

    def backward(self, dlogits4: np.ndarray, lr: float) -> None:
        self.env[self.lowering.dlogits] = dlogits4
        self._run(self.lowering.backward, self.env, lr)

    def predict(self, x4: np.ndarray) -> np.ndarray:
        # The forward of one image does not depend on the other images of its batch
        # (docs/numerics.md: the order of every word is per image), so the oracle runs
        # any number of images at once, in a scratch environment.
        env = {t: self.env[t] for t in self.lowering.weights.values()}
        env[self.lowering.input] = x4
        self._run(self.lowering.forward, env, 0.0)
        return env[self.lowering.logits]

    def get_weights(self) -> dict[str, np.ndarray]:
        return {layer: self.env[t].copy() for layer, t in self.lowering.weights.items()}

    def set_weights(self, hw_weights: Mapping[str, np.ndarray]) -> None:
        for layer, w in hw_weights.items():
            self.env[self.lowering.weights[layer]] = np.array(w, np.float32)

    def close(self) -> None:
        pass


class _RtlBackend:
    def __init__(self, net: Network, lowering_args: dict, hw: HwConfig, seed: int,
                 hw_weights: Mapping[str, np.ndarray]):
        from eftrain import ipsim
        from eftrain.netcompile import compile_network

        self.compiled = compile_network(net, hw=hw, **lowering_args)
        self.lowering = self.compiled.lowering
        if self.compiled.end > ipsim.DRAM_BYTES:
            raise ValueError(f"the network needs {self.compiled.end} bytes of DRAM, the simulated "
                             f"DRAM has {ipsim.DRAM_BYTES}")
        self.beat_bytes = ipsim.AXI_DATA_WIDTH // 8
        self.counters: dict[str, dict | None] = {"forward": None, "backward": None}
        self._lr: float | None = None  # the lr the backward chain in DRAM holds
        self.session = ipsim.SimulatedIP(hw, seed=seed).session()
        try:
            self._write(self.compiled.forward_chain_image())
            self.set_weights(hw_weights)
        except BaseException:
            self.session.close()
            raise

    def _write(self, image: Mapping[int, bytes]) -> None:
        for addr, data in image.items():
            self.session.write(addr, data)

    def _read(self, name: str) -> bytes:
        region = self.compiled.region(name)
        return self.session.read(region.addr, region.nbytes)

    def _run(self, chain: str) -> None:
        addr = self.compiled.forward_chain if chain == "forward" else self.compiled.backward_chain
        ops = self.lowering.forward if chain == "forward" else self.lowering.backward
        run = self.session.run_chain(addr)
        status = run.status
        if status.error or not status.done or run.desc_done != len(ops):
            where = (f" at descriptor {status.index} ({ops[status.index].label})"
                     if status.error and status.index < len(ops) else "")
            code = getattr(status.code, "name", status.code)
            raise RuntimeError(f"the {chain} chain stopped{where}: {code}; STATUS {status}, "
                               f"{run.desc_done} of {len(ops)} descriptors done")
        self.counters[chain] = dict(run.counters)

    def forward(self, x4: np.ndarray) -> np.ndarray:
        self._write(self.compiled.tensor_image(self.lowering.input, x4))
        self._run("forward")
        return self.compiled.tensor_from(self.lowering.logits, self._read(self.lowering.logits))

    def backward(self, dlogits4: np.ndarray, lr: float) -> None:
        self._write(self.compiled.tensor_image(self.lowering.dlogits, dlogits4))
        if lr != self._lr:  # lr lives in the CONV_WU descriptors
            self._write(self.compiled.backward_chain_image(lr))
            self._lr = lr
        self._run("backward")

    def predict(self, x4: np.ndarray) -> np.ndarray:
        # The forward chain is compiled for `batch` images: run it per batch, the last one
        # padded with zero images (each image's logits do not depend on the others).
        batch = self.lowering.batch
        out = []
        for b0 in range(0, x4.shape[0], batch):
            chunk = x4[b0:b0 + batch]
            if chunk.shape[0] < batch:
                chunk = np.concatenate([chunk, np.zeros((batch - chunk.shape[0], *chunk.shape[1:]),
                                                        np.float32)])
            out.append(self.forward(chunk))
        return np.concatenate(out)[: x4.shape[0]]

    def get_weights(self) -> dict[str, np.ndarray]:
        return {layer: self.compiled.tensor_from(t, self._read(t))
                for layer, t in self.lowering.weights.items()}

    def set_weights(self, hw_weights: Mapping[str, np.ndarray]) -> None:
        for layer, w in hw_weights.items():
            self._write(self.compiled.tensor_image(self.lowering.weights[layer], w))

    def close(self) -> None:
        self.session.close()


# --------------------------------------------------------------------------------------
# The trainer.
# --------------------------------------------------------------------------------------


class Trainer:
    """SGD training of ``net`` with batches of ``batch`` images on a core ``hw`` (default
    ``HwConfig()``), with the ``"oracle"`` or ``"rtl"`` backend. Initial weights come from
    ``net.init_weights(seed)``; ``trainable`` (layer names, default all Conv/FC layers)
    freezes the others: they get no weight update, and layers below the lowest trainable
    one get no backward at all. Use as a context manager, or call :meth:`close`, to end the
    rtl backend's simulator."""

    def __init__(self, net: Network, batch: int, backend: str = "oracle", hw: HwConfig | None = None,
                 seed: int = 0, trainable: Sequence[str] | None = None):
        if not isinstance(net, Network):
            raise ValueError(f"net must be an eftrain.Network, got {type(net).__name__}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"seed must be an int, got {seed!r}")
        self.net = net
        self.hw = HwConfig() if hw is None else hw
        self.backend = backend
        self.seed = int(seed)
        lowering_args = {"batch": batch, "trainable": trainable}
        # Lowered here for both backends, so that a network the core cannot run is refused
        # by the oracle backend too.
        lowering = net.lower(hw=self.hw, **lowering_args)
        self.batch = lowering.batch
        self.trainable = lowering.trainable
        hw_weights = self._to_hw(net.init_weights(self.seed))
        if backend == "oracle":
            self._backend = _OracleBackend(lowering, hw_weights)
        else:
            self._backend = _RtlBackend(net, lowering_args, self.hw, self.seed, hw_weights)
        self.lowering: Lowering = self._backend.lowering
        self.stats: dict | None = None
        self.last_logits: np.ndarray | None = None

    # ---- weights -------------------------------------------------------------------------
    def _to_hw(self, weights: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {name: self.net.to_hw_weight(name, w) for name, w in weights.items()}

    def get_weights(self) -> dict[str, np.ndarray]:
        """Every Conv/FC layer's weights: ``{name: float32 [M,N,K,K] (Conv) or [M, features]
        (FC)}``, copies."""
        return {name: self.net.from_hw_weight(name, w) for name, w in self._backend.get_weights().items()}

    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        """Set the weights of some or all Conv/FC layers (float32, shapes of
        :meth:`get_weights`); the bits are kept exactly."""
        self._backend.set_weights(self._to_hw(self.net.check_weights(weights, complete=False)))

    # ---- inputs ----------------------------------------------------------------------------
    def _check_x(self, where: str, x, batch: int | None) -> np.ndarray:
        arr = np.asarray(x)
        if arr.dtype != np.float32:
            raise ValueError(f"{where}: x must be float32, got {arr.dtype}")
        shape = self.net.input_shape
        if arr.ndim != 1 + len(shape) or arr.shape[1:] != shape or arr.shape[0] < 1:
            raise ValueError(f"{where}: x.shape {arr.shape} is not [B, {', '.join(map(str, shape))}]")
        if batch is not None and arr.shape[0] != batch:
            raise ValueError(f"{where}: x has {arr.shape[0]} images, the trainer's batch is {batch}")
        return self.net.input_to_hw(np.ascontiguousarray(arr))

    def _check_labels(self, labels) -> np.ndarray:
        arr = np.asarray(labels)
        classes = self.net.num_classes
        if arr.dtype.kind not in "iu":
            raise ValueError(f"step: labels must be integers, got dtype {arr.dtype}")
        if arr.shape != (self.batch,):
            raise ValueError(f"step: labels.shape {arr.shape} != ({self.batch},)")
        if arr.min() < 0 or arr.max() >= classes:
            raise ValueError(f"step: labels must be in 0..{classes - 1} (the outputs of "
                             f"{self.net.names[-1]}), got {arr.min()}..{arr.max()}")
        return arr.astype(np.int64)

    @staticmethod
    def _check_lr(lr) -> float:
        value = np.asarray(lr)
        if value.ndim != 0 or value.dtype.kind not in "iuf" or value.dtype == np.bool_:
            raise ValueError(f"step: lr must be a real number, got {lr!r}")
        with np.errstate(over="ignore"):
            lr32 = np.float32(value)
        if not np.isfinite(lr32) or not lr32 > 0:
            raise ValueError(f"step: lr must be positive and finite as an fp32 value, got {lr!r}")
        return float(lr32)

    # ---- training ------------------------------------------------------------------------
    def step(self, x, labels, lr: float) -> float:
        """One SGD step on a batch: ``x`` float32 ``[batch, *input_shape]``, ``labels``
        integers ``[batch]``. Returns the mean softmax cross-entropy loss of the batch before
        the update (its logits are kept in :attr:`last_logits`)."""
        x4 = self._check_x("step", x, self.batch)
        labels = self._check_labels(labels)
        lr = self._check_lr(lr)
        logits = self._backend.forward(x4).reshape(self.batch, self.net.num_classes)
        loss, dlogits = oracle.softmax_xent(logits, labels)
        if self.lowering.logits_relu:  # the gradient reaches the last FC through its ReLU
            dlogits = oracle.relu_bp(dlogits, logits)
        self._backend.backward(dlogits.reshape(*dlogits.shape, 1, 1), lr)
        self.last_logits = logits.copy()
        self._record_stats()
        return loss

    def predict(self, x) -> np.ndarray:
        """Logits ``[B, classes]`` (float32) of any number of images ``x`` float32
        ``[B, *input_shape]``."""
        x4 = self._check_x("predict", x, None)
        return self._backend.predict(x4).reshape(x4.shape[0], self.net.num_classes)

    def _record_stats(self) -> None:
        beat = getattr(self._backend, "beat_bytes", 0)
        chains = {
            "forward": _chain_stats(self.lowering.forward, self._backend.counters["forward"], beat),
            "backward": _chain_stats(self.lowering.backward, self._backend.counters["backward"], beat),
        }
        self.stats = {"backend": self.backend, **chains, "total": _total_stats(list(chains.values()))}

    # ---- lifetime ------------------------------------------------------------------------
    def close(self) -> None:
        """End the backend (the rtl backend's simulator session)."""
        self._backend.close()

    def __enter__(self) -> Trainer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
