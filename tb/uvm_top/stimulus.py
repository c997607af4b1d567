"""Stimulus of the top-level pyuvm environment: what one descriptor asks the core to do
(:class:`LayerSpec`), random layers of every kind, their input data, and their placement
in DRAM. No expected value is computed here: the scoreboard derives every expected word
from DRAM with the oracle (chain_model.py).

A layer kind is a :class:`Variant`: an opcode and the flags it carries. Tensor roles,
shapes and which addresses a descriptor uses come from
:meth:`eftrain.descriptor.Descriptor.tensors`, the single definition.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from eftrain import HwConfig, layout, oracle
from eftrain import descriptor as dsc
from eftrain.descriptor import Descriptor, Flag, Opcode
from top_tb import ALIGN, PAGE, DramMap, fitting_tile_rows

ADDRESS_FIELDS = ("in_addr", "wgt_addr", "out_addr", "aux_addr")


class Variant(NamedTuple):
    """A layer kind: an opcode and its flags (a coverage row)."""

    op: Opcode
    flags: int = 0

    @property
    def name(self) -> str:
        names = [f.name for f in Flag if self.flags >> f & 1]
        return "+".join([self.op.name, *names])

    @property
    def is_pool(self) -> bool:
        return self.op in (Opcode.POOL_FP, Opcode.POOL_BP)


CONV_VARIANTS = (
    Variant(Opcode.CONV_FP), Variant(Opcode.CONV_FP, 1 << Flag.RELU),
    Variant(Opcode.CONV_BP), Variant(Opcode.CONV_BP, 1 << Flag.RELU_MASK),
    Variant(Opcode.CONV_WU), Variant(Opcode.CONV_WU, 1 << Flag.SGD),
)
POOL_VARIANTS = (
    Variant(Opcode.POOL_FP), Variant(Opcode.POOL_BP), Variant(Opcode.POOL_BP, 1 << Flag.RELU_MASK),
)
ALL_VARIANTS = CONV_VARIANTS + POOL_VARIANTS
#: The variants the conv engine ran before the flags and pools existed.
PLAIN_CONV_VARIANTS = tuple(v for v in CONV_VARIANTS if v.flags == 0)


def variants(new_ops: bool) -> tuple[Variant, ...]:
    """Every variant, or only the plain conv ones (``new_ops`` False)."""
    return ALL_VARIANTS if new_ops else PLAIN_CONV_VARIANTS


def variant_of(desc: Descriptor) -> Variant:
    return Variant(Opcode(desc.opcode), desc.flags)


def legal_bins(cfg: HwConfig, allowed: tuple[Variant, ...]) -> list[tuple[Variant, int, int, int]]:
    """Every (variant, k, stride, pad) a valid descriptor can have."""
    out = []
    for v in allowed:
        if v.is_pool:
            out.append((v, 2, 2, 0))
            continue
        out += [(v, k, s, p) for k in range(1, cfg.kmax + 1) for s in (1, 2) for p in range(k)]
    return out


# --------------------------------------------------------------------------------------
# One layer
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerSpec:
    """The geometry of one descriptor (addresses are given when it is placed)."""

    variant: Variant
    k: int
    stride: int
    pad: int
    batch: int
    n: int
    m: int
    h: int
    w: int
    tile_rows: int
    lr: float = 0.0

    def descriptor(self, **fields) -> Descriptor:
        return Descriptor(opcode=self.variant.op, flags=self.variant.flags, k=self.k, stride=self.stride,
                          pad=self.pad, batch=self.batch, tile_rows=self.tile_rows, n=self.n, m=self.m,
                          h=self.h, w=self.w, lr=self.lr, **fields)

    def tensors(self) -> tuple[dsc.TensorUse, ...]:
        return self.descriptor().tensors()

    @property
    def name(self) -> str:
        return (f"{self.variant.name} K={self.k} s={self.stride} pad={self.pad} B={self.batch} "
                f"N={self.n} M={self.m} HxW={self.h}x{self.w} tile_rows={self.tile_rows}"
                + (f" lr={self.lr:.6g}" if self.variant.flags >> Flag.SGD & 1 else ""))


def random_lr(rng: np.random.Generator) -> float:
    """A learning rate already representable in fp32 (a power of two times 1..2)."""
    return float(np.float32(2.0 ** -int(rng.integers(1, 9)) * rng.uniform(1.0, 2.0)))


def random_spec(rng: np.random.Generator, cfg: HwConfig, variant: Variant, *, k: int | None = None,
                stride: int | None = None, pad: int | None = None, max_c: float = 2.5, max_hw: int = 10,
                max_batch: int = 3) -> LayerSpec:
    """A random layer of ``variant`` (kernel, stride and padding as given, else random):
    ragged channel counts, image sizes from the smallest legal one to ``max_hw`` (odd
    ones included), sometimes the FC shape (image = kernel, one output pixel), a random
    tile among those that fit."""
    tn = cfg.tn
    lr = random_lr(rng) if variant.flags >> Flag.SGD & 1 else 0.0
    c_hi = max(1, int(max_c * tn))
    if variant.is_pool:
        n = int(rng.integers(1, c_hi + 1))
        h, w = (int(rng.integers(2, max_hw + 1)) for _ in range(2))
        # tile_rows is unused by the pools: any value, zero included.
        return LayerSpec(variant, 2, 2, 0, int(rng.integers(1, max_batch + 1)), n, n, h, w,
                         int(rng.integers(0, 8)), lr)
    for _ in range(1000):
        kk = int(rng.integers(1, cfg.kmax + 1)) if k is None else k
        ss = int(rng.integers(1, 3)) if stride is None else stride
        pp = int(rng.integers(0, kk)) if pad is None else pad
        lo = max(1, kk - 2 * pp)
        if lo > max_hw:
            continue
        if pp == 0 and rng.random() < 0.15:
            h = w = kk                                   # FC as a convolution: one output pixel
        elif rng.random() < 0.3:
            h, w = (int(rng.integers(lo, max_hw + 1)) for _ in range(2))
        else:
            mid = max(lo, max_hw // 2)
            h, w = (int(rng.integers(mid, max_hw + 1)) for _ in range(2))
        n, m = (int(rng.integers(1, c_hi + 1)) for _ in range(2))
        fits = fitting_tile_rows(cfg, variant.op, kk, ss, pp, n, m, h, w)
        if fits:
            return LayerSpec(variant, kk, ss, pp, int(rng.integers(1, max_batch + 1)), n, m, h, w,
                             int(rng.choice(fits)), lr)
    raise ValueError(f"random_spec: no {variant.name} layer with k={k} stride={stride} pad={pad} "
                     f"fits {cfg} within {max_hw}x{max_hw}")


# --------------------------------------------------------------------------------------
# Input data
# --------------------------------------------------------------------------------------

_SPECIALS = np.array([0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007FFFFF, 0x00800000,
                      0x80800000, 0x3F800000], np.uint32).view(np.float32)


def random_values(rng: np.random.Generator, shape, *, relu: bool = False, ties: bool = False,
                  specials: bool = False) -> np.ndarray:
    """float32 data of ``shape``: standard normal; ``relu``: a stored post-ReLU activation
    (about half +0); ``ties``: some values repeated inside 2x2 windows and some signed
    zeros (the max-pool's tie rules); ``specials``: a few signed zeros, subnormals (read
    as zero by the core) and the smallest normals."""
    v = rng.standard_normal(shape).astype(np.float32)
    if ties and v.ndim == 4 and v.shape[2] > 1 and v.shape[3] > 1:
        dup = rng.random(v.shape) < 0.25
        shifted = np.roll(v, int(rng.choice([-1, 1])), axis=int(rng.choice([2, 3])))
        v = np.where(dup, shifted, v)
        v = np.where(rng.random(v.shape) < 0.05, np.float32(-0.0), v)
    if specials:
        pick = rng.random(v.shape) < 0.03
        v = np.where(pick, rng.choice(_SPECIALS, v.shape), v)
    if relu:
        v = oracle.relu_fp(v)
    return v


def input_values(rng: np.random.Generator, desc: Descriptor, use: dsc.TensorUse, specials: bool) -> np.ndarray:
    """Data for one input tensor of ``desc``, shaped for its role."""
    op, flags = Opcode(desc.opcode), desc.flags
    pool_input = op in (Opcode.POOL_FP, Opcode.POOL_BP) and use.name == "x"
    stored_relu = (use.name == "a") or (op == Opcode.POOL_BP and use.name == "x" and flags >> Flag.RELU_MASK & 1)
    values = random_values(rng, use.shape, relu=stored_relu, ties=pool_input, specials=specials)
    if use.weights:
        fan_in = use.shape[1] * use.shape[2] * use.shape[3]
        values = (values / np.float32(np.sqrt(fan_in))).astype(np.float32)
    return values


def dram_image(use: dsc.TensorUse, values: np.ndarray, g: int) -> bytes:
    """The tensor's DRAM image (eftrain.layout)."""
    img = layout.weights_to_dram(values, g) if use.weights else layout.act_to_dram(values, g)
    return img.tobytes()


# --------------------------------------------------------------------------------------
# Placement
# --------------------------------------------------------------------------------------


@dataclass
class PlacedLayer:
    """A layer in DRAM: its descriptor (``next`` 0 until the chain links it)."""

    spec: LayerSpec
    desc: Descriptor


def _alloc(dmap: DramMap, rng: np.random.Generator, name: str, nbytes: int) -> int:
    """64-byte aligned, or (one in four) at a random 64-byte offset in a 4 KB page, so
    that transfers cross 4 KB boundaries."""
    if rng.random() < 0.25:
        return dmap.alloc(name, nbytes, PAGE, int(rng.integers(0, PAGE // ALIGN)) * ALIGN)
    return dmap.alloc(name, nbytes)


def place_layer(dmap: DramMap, rng: np.random.Generator, cfg: HwConfig, spec: LayerSpec, *,
                out_in_place: bool = False, specials: bool = False, junk: bool = False) -> PlacedLayer:
    """Write random inputs of ``spec`` into DRAM and allocate its output.
    ``out_in_place``: CONV_WU with SGD writes the new weights over the old ones (out_addr
    = wgt_addr). ``specials``: see random_values. ``junk``: random values in the address
    fields the opcode does not use (the core must ignore them)."""
    g = cfg.tn
    addrs: dict[str, int] = {}
    for use in spec.tensors():
        if use.access == "read":
            addrs[use.field] = _alloc(dmap, rng, use.name, use.nbytes(g))
            dmap.write(addrs[use.field], dram_image(use, input_values(rng, spec.descriptor(), use, specials), g))
        elif out_in_place:
            addrs[use.field] = addrs["wgt_addr"]
        else:
            addrs[use.field] = _alloc(dmap, rng, use.name, use.nbytes(g))
    if junk:
        for name in ADDRESS_FIELDS:
            if name not in addrs:
                addrs[name] = int(rng.integers(0, 1 << 40))
    desc = spec.descriptor(**addrs)
    code = dsc.validate(desc, cfg)
    if code != dsc.ErrorCode.NONE:
        raise ValueError(f"place_layer: {spec.name} is invalid ({code.name})")
    return PlacedLayer(spec, desc)


def place_chain(dmap: DramMap, descs: list[Descriptor], last_next: int = 0) -> tuple[list[int], list[Descriptor]]:
    """Write ``descs`` into DRAM linked by ``next`` (the last one's ``next`` is
    ``last_next``); returns their addresses (the first is CHAIN) and the linked
    descriptors."""
    addrs = [dmap.alloc(f"desc{i}", dsc.DESC_BYTES) for i in range(len(descs))]
    linked = []
    for i, d in enumerate(descs):
        d = dataclasses.replace(d, next=addrs[i + 1] if i + 1 < len(descs) else last_next)
        dmap.write(addrs[i], d.pack())
        linked.append(d)
    return addrs, linked


def cycle_budget(descs: list[Descriptor], cfg: HwConfig, stressed: bool) -> int:
    """A generous bound on the cycles of a chain: every tensor re-read once per block
    pass at a few cycles per beat, plus every MAC issue a few times over."""
    total = 5000
    for d in descs:
        if dsc.validate(d, cfg) != dsc.ErrorCode.NONE:
            break
        uses = d.tensors()
        passes = max(-(-d.m // cfg.tn), -(-d.n // cfg.tn))
        beats = sum(u.nbytes(cfg.tn) for u in uses) // 16
        ho, wo = d.out_hw
        pixels = d.batch * max(ho * wo, d.h * d.w)
        macs = -(-d.m // cfg.tn) * -(-d.n // cfg.tn) * pixels * d.k * d.k
        total += 8 * beats * passes + 4 * macs + 200 * passes * d.batch * max(d.h, 1)
    return total * (5 if stressed else 1)
