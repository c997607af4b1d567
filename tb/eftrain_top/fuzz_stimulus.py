"""Fuzzed descriptor chains for fuzz_tests.py, and the outcome the documented hardware
gives each one.

A batch (:meth:`DescriptorFuzzer.batch`) places a few tiny valid layers (any opcode and
flags: the *bases*) and a region of random bytes (*junk*) in DRAM, then makes one
:class:`FuzzItem` per doorbell:

* ``valid``: a base's descriptor, sometimes with junk in the fields it does not use
  (unused addresses, ``lr`` without SGD, a pool's ``tile_rows``, the reserved bits);
* ``sweep:<name>``: one field of a base's descriptor set to the next value of a sweep
  every run goes through (:func:`sweep_values`: all 256 opcodes, every flag bit on
  every opcode, k / stride / pad 0..15, dimensions 0, 1, 4095, 4096, 65535, tile_rows
  0, 1, 65535), then ``field:<name>``: one field set to a boundary or random value
  (those, and addresses unaligned, zero, past the DRAM or near 2**40 and 2**64, lr any
  fp32 bits, magic, version);
* ``combo``: 2 to 5 fields at once; ``raw``: random bits with some fields made
  plausible so the later checks are reached;
* ``bad link``: 1..3 good descriptors, then a bad one (sometimes a good one after it,
  which must never run); ``bad next``: good descriptors whose last ``next`` is
  unaligned, past the DRAM, just under 2**40 or points at junk; ``chain addr``: a bad
  CHAIN value.

A mutation that leaves the descriptor valid is kept only if it does exactly what its
base does (:func:`same_work`: same geometry, flags and tensors; tile_rows, unused fields
and lr without SGD may differ, and the oracle's answer does not depend on them); it then
runs as a valid item. Otherwise another mutation is drawn.

:func:`predict` walks a chain as docs/architecture.md says the core does, with
``eftrain.descriptor.descriptor_address_ok`` and ``validate`` (the single definition)
and the DRAM model's one extra rule (an access at or past DRAM_BYTES answers SLVERR).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from eftrain import descriptor as dsc
from eftrain.config import HwConfig
from eftrain.descriptor import Descriptor, ErrorCode, Flag, Opcode
from top_tb import ADDR_WIDTH, DRAM_BYTES, TB, Layer, make_layer, random_layer

ADDR_FIELDS = ("in_addr", "wgt_addr", "out_addr", "aux_addr")
DIM_FIELDS = ("batch", "n", "m", "h", "w")
NIBBLE_FIELDS = ("k", "stride", "pad")
#: Fields a single-field mutation picks from (each equally often).
MUTATED_FIELDS = ("magic", "version", "opcode", "flags", *NIBBLE_FIELDS, *DIM_FIELDS, "tile_rows", "lr",
                  *ADDR_FIELDS)
#: Fields checked last (dimensions, tile fit, alignment, range).
LATE_FIELDS = (*DIM_FIELDS, "tile_rows", *ADDR_FIELDS)
DIM_VALUES = (0, 1, dsc.MAX_DIM, dsc.MAX_DIM + 1, 0xFFFF)
TOP = 1 << ADDR_WIDTH
#: fp32 bit patterns for lr: zeros, the smallest subnormal, the largest normal, one, a
#: negative one; and the non-finite ones: NaNs (quiet, signalling, negative), infinities.
LR_FINITE_BITS = (0x00000000, 0x80000000, 0x00000001, 0x7F7FFFFF, 0x3F800000, 0xBE000000)
LR_NONFINITE_BITS = (0x7FC00000, 0x7F800001, 0xFFFFFFFF, 0x7F800000, 0xFF800000)
#: A chain longer than this is a loop the generator made by mistake.
MAX_CHAIN = 16
#: Byte 7 of the image holds the reserved bits (word 1, bits 31:28) in its high nibble.
RESERVED_BYTE, RESERVED_MASK = 7, 0xF0
#: First byte of the 64-bit ``next`` field.
NEXT_BYTE = next(4 * f.word for f in dsc.DESC_FIELDS if f.name == "next")


def lr_of_bits(bits: int) -> float:
    return float(np.array(bits, np.uint32).view(np.float32))


@dataclass
class Outcome:
    """What the chain must end with: STATUS.code and STATUS.index (the failing
    descriptor's position; unchecked when done) and the addresses of the descriptors that
    complete, in order (DESC_DONE is their count); ``fetched``: the images the core reads
    and validates (for the coverage count)."""

    code: ErrorCode
    index: int
    completed: list[int]
    fetched: list[bytes] = field(default_factory=list)   # images the core reads and validates


def predict(head: int, image_at: Callable[[int], bytes], cfg: HwConfig) -> Outcome:
    """The documented outcome of ringing the doorbell with CHAIN = ``head``;
    ``image_at(addr)`` gives the 64 bytes the core would fetch there (inside the DRAM)."""
    addr, completed, fetched = head, [], []
    for index in range(MAX_CHAIN):
        if not dsc.descriptor_address_ok(addr):
            return Outcome(ErrorCode.UNALIGNED_ADDRESS, index, completed, fetched)
        if addr + dsc.DESC_BYTES > DRAM_BYTES:       # the DRAM model answers SLVERR
            return Outcome(ErrorCode.AXI_READ_ERROR, index, completed, fetched)
        image = image_at(addr)
        fetched.append(image)
        code = dsc.validate(image, cfg, ADDR_WIDTH)
        if code != ErrorCode.NONE:
            return Outcome(code, index, completed, fetched)
        completed.append(addr)
        addr = Descriptor.unpack(image).next
        if addr == 0:
            return Outcome(ErrorCode.NONE, index, completed, fetched)
    raise ValueError(f"predict: chain at {head:#x} is longer than {MAX_CHAIN} descriptors (a loop?)")


def same_work(d: Descriptor, base: Descriptor) -> bool:
    """``d`` does exactly what ``base`` does: same opcode, geometry, flags and tensors (so
    the same output, bit for bit); tile_rows, unused fields and lr without SGD may
    differ."""
    keys = ("opcode", "k", "stride", "pad", "flags", "batch", "n", "m", "h", "w")
    if any(getattr(d, k) != getattr(base, k) for k in keys):
        return False
    if d.opcode == Opcode.CONV_WU and d.flags >> Flag.SGD & 1 and d.lr_bits != base.lr_bits:
        return False
    return d.tensors() == base.tensors()


@dataclass
class FuzzItem:
    """One doorbell: what was fuzzed, CHAIN, and (after :meth:`DescriptorFuzzer.batch`)
    the predicted outcome and the layer each completing descriptor produces."""

    kind: str
    head: int
    outcome: Outcome | None = None
    runs: list[Layer] = field(default_factory=list)


def sweep_values() -> list[tuple[str, object]]:
    """Single-field values every run tries (when FUZZ is large enough): all 256 opcodes,
    every flag bit on every opcode ((opcode, bit)), k, stride and pad 0..15, each
    dimension at DIM_VALUES, tile_rows 0, 1, 65535."""
    return ([("opcode", v) for v in range(256)]
            + [("flags", (op, bit)) for op in Opcode for bit in range(16)]
            + [(name, v) for name in NIBBLE_FIELDS for v in range(16)]
            + [(name, v) for name in DIM_FIELDS for v in DIM_VALUES]
            + [("tile_rows", v) for v in (0, 1, 0xFFFF)])


class _Deck:
    """Draws every value of a list once, in a random order, then starts again (so a run
    of a few hundred draws covers all of them)."""

    def __init__(self, rng: np.random.Generator, values):
        self.rng, self.values, self.left = rng, list(values), []

    def draw(self):
        if not self.left:
            self.left = [self.values[i] for i in self.rng.permutation(len(self.values))]
        return self.left.pop()


class DescriptorFuzzer:
    """Makes batches of :class:`FuzzItem` in the test bench's DRAM (see the module
    docstring). ``stats`` counts the items by kind. ``nonfinite_sgd_lr``: valid SGD
    layers may get a NaN or infinite lr too (bad descriptors always may)."""

    def __init__(self, tb: TB, nonfinite_sgd_lr: bool = False):
        self.tb, self.rng, self.cfg = tb, tb.rng, tb.cfg
        rng = self.rng
        self.fields = _Deck(rng, MUTATED_FIELDS)
        self.opcodes = _Deck(rng, range(256))
        self.flag_bits = _Deck(rng, [(op, bit) for op in Opcode for bit in range(16)])
        self.nibbles = {name: _Deck(rng, range(16)) for name in NIBBLE_FIELDS}
        self.dims = _Deck(rng, DIM_VALUES)
        self.lrs = _Deck(rng, LR_FINITE_BITS + LR_NONFINITE_BITS)
        # A valid SGD layer with a non-finite lr writes NaN (lr * +0) into the padded
        # channel words of w, which the DRAM layout keeps +0: reported, off by default.
        self.sgd_lrs = _Deck(rng, LR_FINITE_BITS + (LR_NONFINITE_BITS if nonfinite_sgd_lr else ()))
        self.stats: dict[str, int] = {}
        # Swept single-field values, in a random order; those that make a valid layer
        # with other work on every base are left to the valid layers.
        values = sweep_values()
        self.sweep = [values[i] for i in rng.permutation(len(values))]
        self.sweep_total, self.sweep_left_to_valid = len(values), 0
        self.opcodes_seen: set[int] = set()
        self.flag_pairs_seen: set[tuple[int, int]] = set()

    # ---- values -----------------------------------------------------------------------
    def _addr_value(self, current: int) -> int:
        rng = self.rng
        choice = int(rng.integers(8))
        if choice == 0:
            return current + int(rng.integers(1, 64))              # unaligned
        if choice == 1:
            return 0
        if choice == 2:
            return TOP - 64 * int(rng.integers(1, 5))              # the tensor ends past 2**40
        if choice == 3:
            return TOP + 64 * int(rng.integers(0, 4))
        if choice == 4:
            return (1 << 64) - 64 * int(rng.integers(1, 3))
        if choice == 5:
            return int(rng.integers(0, 1 << 62)) << 2              # anything, mostly far away
        if choice == 6:
            return (TOP - 64 * int(rng.integers(1, 5))) | int(rng.integers(1, 64))
        return DRAM_BYTES + 64 * int(rng.integers(0, 1024))        # in range, past the DRAM model

    def _value(self, name: str, d: Descriptor):
        """A boundary (or random) value for field ``name`` of ``d``."""
        rng = self.rng
        if name == "magic":
            return int(rng.choice([0, 0xFFFF, dsc.MAGIC ^ (1 << int(rng.integers(16))),
                                   int(rng.integers(1 << 16))]))
        if name == "version":
            return int(rng.choice([0, 2, 0x80, 0xFF, int(rng.integers(1 << 8))]))
        if name == "opcode":
            return self.opcodes.draw()
        if name in NIBBLE_FIELDS:
            return self.nibbles[name].draw()
        if name in DIM_FIELDS:         # boundaries, any valid size (tiles that overflow), anything
            choice = rng.random()
            return self.dims.draw() if choice < 0.5 else int(rng.integers(1, dsc.MAX_DIM + 1)) if choice < 0.8 \
                else int(rng.integers(1 << 16))
        if name == "tile_rows":
            return int(rng.choice([0, 1, 0xFFFF, int(rng.integers(1 << 16))]))
        if name == "lr":
            return lr_of_bits(self.lrs.draw() if rng.random() < 0.7 else int(rng.integers(1 << 32)))
        if name in ADDR_FIELDS:
            return self._addr_value(getattr(d, name))
        raise ValueError(f"DescriptorFuzzer: no values for field {name!r}")

    def _mutate(self, d: Descriptor, name: str, value=None) -> Descriptor:
        """``d`` with field ``name`` set to ``value`` (None: a drawn one). Flags: one flag
        bit on one opcode ((opcode, bit); drawn: every pair over a run), added to the flags
        of a descriptor of that opcode, or alone with the opcode changed."""
        if name != "flags":
            return dataclasses.replace(d, **{name: self._value(name, d) if value is None else value})
        op, bit = self.flag_bits.draw() if value is None else value
        if d.opcode == op:
            return dataclasses.replace(d, flags=d.flags | 1 << bit)
        return dataclasses.replace(d, opcode=op, flags=1 << bit)

    # ---- descriptors ------------------------------------------------------------------
    def _mutated(self, base: Layer, n_fields: int) -> tuple[str, Descriptor]:
        """A descriptor ``n_fields`` fields away from ``base``'s that is invalid, or valid
        and doing the same work; (kind, descriptor)."""
        for _ in range(100):
            d = base.desc
            if n_fields == 1:
                name = self.fields.draw()
                d = self._mutate(d, name)
                kind = f"field:{name}"
            else:
                # Half the combinations keep the early fields, to reach the tile, alignment
                # and range checks more often.
                names = MUTATED_FIELDS if self.rng.random() < 0.5 else LATE_FIELDS
                for name in self.rng.choice(names, min(n_fields, len(names)), replace=False):
                    d = self._mutate(d, str(name))
                kind = "combo"
            if dsc.validate(d, self.cfg, ADDR_WIDTH) != ErrorCode.NONE or same_work(d, base.desc):
                return kind, d
        raise RuntimeError(f"DescriptorFuzzer: no usable mutation of {base.name} in 100 draws")

    def _swept(self, bases: list[Layer]) -> tuple[str, Descriptor, Layer] | None:
        """The next swept value applied to a base for which it makes the descriptor
        invalid (or keeps its work); None when the sweep is over, or when the value gives
        every base a valid layer with other work (then the valid layers cover it)."""
        while self.sweep:
            name, value = self.sweep.pop()
            for i in self.rng.permutation(len(bases)):
                d = self._mutate(bases[i].desc, name, value)
                if dsc.validate(d, self.cfg, ADDR_WIDTH) != ErrorCode.NONE or same_work(d, bases[i].desc):
                    return f"sweep:{name}", d, bases[i]
            self.sweep_left_to_valid += 1
        return None

    def coverage(self) -> str:
        """What the fetched descriptors covered so far."""
        swept = self.sweep_total - len(self.sweep) - self.sweep_left_to_valid
        pairs = len(Opcode) * 16
        return (f"opcodes {len(self.opcodes_seen)}/256, flag bit x opcode {len(self.flag_pairs_seen)}/{pairs}, "
                f"swept field values {swept}/{self.sweep_total} ({self.sweep_left_to_valid} only valid)")

    def _raw(self) -> bytes:
        """Random bits, then (each with some probability) a valid magic, version,
        opcode, allowed flags, a plausible kernel and small dimensions, so that some get
        as far as the tile, alignment and range checks. Never a valid descriptor."""
        rng = self.rng
        while True:
            image = bytearray(rng.integers(0, 256, dsc.DESC_BYTES, dtype=np.uint8).tobytes())
            d = Descriptor.unpack(bytes(image))
            changes = {}
            if rng.random() < 0.8:
                changes.update(magic=dsc.MAGIC, version=dsc.VERSION if rng.random() < 0.9 else d.version)
            if rng.random() < 0.8:
                op = Opcode(int(rng.integers(1, 6)))
                changes.update(opcode=op, flags=dsc.flags_allowed(op) & int(rng.integers(1 << 16)))
            if rng.random() < 0.6:
                changes.update(k=int(rng.integers(1, 4)), stride=int(rng.integers(1, 3)), pad=0)
            if rng.random() < 0.6:
                changes.update({name: int(rng.integers(1, 9)) for name in DIM_FIELDS})
                changes.update(tile_rows=int(rng.integers(1, 9)))
            if rng.random() < 0.5:
                changes.update({name: int(rng.integers(0, DRAM_BYTES // 64)) * 64 + 64 * int(rng.random() < 0.2)
                                * int(rng.integers(1, 64)) for name in ADDR_FIELDS})
            d = dataclasses.replace(d, **changes)
            image = bytearray(d.pack())
            image[RESERVED_BYTE] |= int(rng.integers(16)) << 4
            if dsc.validate(bytes(image), self.cfg, ADDR_WIDTH) != ErrorCode.NONE:
                return bytes(image)

    def _with_junk(self, lay: Layer) -> bytes:
        """``lay``'s descriptor with random values in the fields it does not use (each
        kept only if the descriptor stays valid)."""
        rng = self.rng
        d = lay.desc
        used = {t.field for t in d.tensors()}
        junk = {name: int(rng.integers(0, 1 << 63)) * 2 + int(rng.integers(2)) for name in ADDR_FIELDS
                if name not in used}
        if not (d.opcode == Opcode.CONV_WU and d.flags >> Flag.SGD & 1):
            junk["lr"] = lr_of_bits(int(rng.integers(1 << 32)))
        junk["tile_rows"] = int(rng.choice([0xFFFF, int(rng.integers(1, 1 << 16))]))
        for name, value in junk.items():
            tried = dataclasses.replace(d, **{name: value})
            if dsc.validate(tried, self.cfg, ADDR_WIDTH) == ErrorCode.NONE:
                d = tried
        image = bytearray(d.pack())
        image[RESERVED_BYTE] |= RESERVED_MASK
        return bytes(image)

    # ---- layers -----------------------------------------------------------------------
    def _base_layer(self) -> Layer:
        """A tiny random layer (any opcode, random flags); a CONV_WU with SGD gets a
        boundary lr half the time and is in place (out_addr = wgt_addr) a third of it."""
        rng, cfg = self.rng, self.cfg
        lay = random_layer(rng, cfg, max_c=1.25, max_hw=5, max_batch=int(rng.integers(1, 3)))
        if lay.op == Opcode.CONV_WU and lay.flags >> Flag.SGD & 1:
            lr = lr_of_bits(self.sgd_lrs.draw()) if rng.random() < 0.5 else None
            lay = make_layer(rng, cfg, lay.op, k=lay.k, stride=lay.stride, pad=lay.pad, batch=lay.batch, n=lay.n,
                             m=lay.m, h=lay.h, w=lay.w, tile_rows=lay.tile_rows, flags=lay.flags, lr=lr,
                             inplace=rng.random() < 1 / 3)
        return self.tb.place(lay)

    # ---- the batch ----------------------------------------------------------------------
    def batch(self, n_items: int) -> list[FuzzItem]:
        """Reset the DRAM, place the bases, the junk and ``n_items`` items, and predict
        every item's outcome from the bytes written."""
        tb, rng = self.tb, self.rng
        tb.dmap.reset()
        n_bases = max(3, n_items // 10)
        bases = [self._base_layer() for _ in range(n_bases)]
        # A base may run many times only if running it again writes the same output.
        reusable = [b for b in bases if not b.inplace]
        while not reusable:
            bases.append(self._base_layer())
            reusable = [b for b in bases if not b.inplace]
        junk = tb.dmap.alloc("junk", 4096)
        slot_of: dict[int, bytes] = {}
        layer_of: dict[int, Layer] = {}

        def put(images: list[bytes], layers: list[Layer | None], last_next: int | None = None) -> list[int]:
            """Write images at fresh addresses, linked by next; the last one's next is
            ``last_next`` (None: keep the image's)."""
            addrs = [tb.dmap.alloc(f"desc {len(slot_of) + i}", dsc.DESC_BYTES) for i in range(len(images))]
            for i, (addr, image) in enumerate(zip(addrs, images)):
                nxt = addrs[i + 1] if i + 1 < len(images) else last_next
                if nxt is not None:
                    image = bytearray(image)
                    image[NEXT_BYTE:NEXT_BYTE + 8] = nxt.to_bytes(8, "little")
                    image = bytes(image)
                tb.dmap.write(addr, image)
                slot_of[addr] = image
                if layers[i] is not None:
                    layer_of[addr] = layers[i]
            return addrs

        def good(count: int | None = None) -> tuple[list[bytes], list[Layer]]:
            """``count`` good descriptors (None: 1, 2 or 3, mostly 1: each one runs a
            layer, the costly part of a doorbell)."""
            count = int(rng.choice([1, 1, 1, 2, 2, 3])) if count is None else count
            picks = [reusable[int(rng.integers(len(reusable)))] for _ in range(count)]
            return [p.desc.pack() for p in picks], picks

        items: list[FuzzItem] = []
        # Every other item takes the next swept value while the sweep lasts; the rest
        # are drawn with these weights.
        kinds = ["field"] * 25 + ["combo"] * 25 + ["raw"] * 10 + ["bad link"] * 18 + ["bad next"] * 12 + \
                ["chain addr"] * 10
        for i in range(n_items):
            if i < n_bases:
                lay = bases[i]
                image = self._with_junk(lay) if rng.random() < 0.5 else lay.desc.pack()
                head = put([image], [lay], 0)[0]
                items.append(FuzzItem("valid", head))
                continue
            swept = self._swept(reusable) if (i - n_bases) % 2 == 0 else None
            kind = "field" if swept is not None else kinds[int(rng.integers(len(kinds)))]
            if swept is not None:
                name, d, base = swept
            elif kind in ("field", "combo"):
                base = reusable[int(rng.integers(len(reusable)))]
                name, d = self._mutated(base, 1 if kind == "field" else int(rng.integers(2, 6)))
            if kind in ("field", "combo"):
                valid = dsc.validate(d, self.cfg, ADDR_WIDTH) == ErrorCode.NONE
                image = d.pack()
                head = put([image], [base if valid else None], 0 if valid else None)[0]
                items.append(FuzzItem("valid (mutated, same work)" if valid else name, head))
            elif kind == "raw":
                items.append(FuzzItem("raw", put([self._raw()], [None])[0]))
            elif kind == "bad link":
                images, layers = good()
                base = reusable[int(rng.integers(len(reusable)))]
                choice = rng.random()
                if choice < 0.2:
                    bad = self._raw()
                else:
                    _, d = self._mutated(base, 1 if choice < 0.7 else int(rng.integers(2, 6)))
                    if dsc.validate(d, self.cfg, ADDR_WIDTH) == ErrorCode.NONE:
                        d = dataclasses.replace(d, magic=0)       # this link must be the bad one
                    bad = d.pack()
                tail, tail_layers = good(int(rng.random() < 0.25))
                head = put(images + [bad] + tail, layers + [None] + tail_layers, 0)[0]
                items.append(FuzzItem("bad link", head))
            elif kind == "bad next":
                images, layers = good()
                head = put(images, layers, self._bad_descriptor_address(junk, for_next=True))[0]
                items.append(FuzzItem("bad next", head))
            else:
                items.append(FuzzItem("chain addr", self._bad_descriptor_address(junk, for_next=False)))

        def image_at(addr: int) -> bytes:
            return slot_of[addr] if addr in slot_of else bytes(tb.mem[addr:addr + dsc.DESC_BYTES])

        for item in items:
            item.outcome = predict(item.head, image_at, self.cfg)
            item.runs = [layer_of[a] for a in item.outcome.completed]
            kind = item.kind.split(":")[0]
            self.stats[kind] = self.stats.get(kind, 0) + 1
            for image in item.outcome.fetched:
                d = Descriptor.unpack(image)
                self.opcodes_seen.add(int(d.opcode))
                if d.opcode in Opcode._value2member_map_:
                    self.flag_pairs_seen.update((int(d.opcode), bit) for bit in range(16) if d.flags >> bit & 1)
        return items

    def _bad_descriptor_address(self, junk: int, for_next: bool) -> int:
        """A CHAIN or next that the core must not run: zero (only as CHAIN: a next of
        zero ends the chain), unaligned (high bits too), past the DRAM model or just under
        2**40 (SLVERR), or into the junk (random bytes: validate says what)."""
        rng = self.rng
        choice = int(rng.integers(1 if for_next else 0, 6))
        if choice == 0:
            return 0
        if choice == 1:
            return junk + 64 * int(rng.integers(0, 63)) + int(rng.integers(1, 64))
        if choice == 2:
            return (int(rng.integers(1, 1 << 8)) << 32) | int(rng.integers(1, 64))
        if choice == 3:
            return DRAM_BYTES + 64 * int(rng.integers(0, 1 << 16))
        if choice == 4:
            return TOP - 64 * int(rng.integers(1, 4))
        return junk + 64 * int(rng.integers(0, 63))
