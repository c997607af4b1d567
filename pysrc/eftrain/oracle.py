"""The numpy training oracle: every layer of the core, forward and backward, in two modes.

* **Reference mode** (``cfg=None``): float64 maths, the plain mathematical definition of
  each layer and its gradients. Inputs of any real dtype are converted to float64 and the
  results are float64. It is the ground truth the exact mode is compared with (within
  the bound of docs/numerics.md, section 7) and is itself checked against finite
  differences.
* **Exact mode** (``cfg`` an :class:`eftrain.HwConfig`): a bit-exact model of the core.
  Inputs are converted to float32 and read through ``ftz`` (denormals-are-zero); every
  multiplication and addition is the core's fp32 operation (round to nearest even, then
  flush subnormal results to signed zero); every NaN leaving a chain is the canonical
  ``0x7FC00000``; and every output word is summed in exactly the order of
  docs/numerics.md (sections 2-5), which depends on ``cfg.tn`` only. The results are
  float32, equal bit for bit to the words the RTL writes.

The select-only layers (``relu_*``, ``maxpool_*``) have no mode: they only choose or zero
words, so float32 input stays float32 with its bits preserved (the fp32 rules of
docs/numerics.md, section 6: subnormals compare as zero, ReLU canonicalises NaN) and any
other input is computed in float64. ``softmax_xent`` runs on the host in float64 in both
modes (section 6).

Shapes: conv ``x [B,N,H,W]``, ``w [M,N,K,K]``, ``y/dy [B,M,Ho,Wo]``; FC ``x [B,N]``,
``w [M,N]``, ``dy [B,M]``; max-pool ``idx [B,C,Ho,Wo]`` (uint8, 0..3). Invalid shapes or
parameters raise ``ValueError`` naming the function and the offending field.

Performance: exact mode loops in Python only over (channel tile, kernel tap) steps, over
cache-sized blocks of output words, and over the pixels of WU's serial chains; everything
else is vectorised float32 numpy arithmetic (``np.multiply``/``np.add`` into preallocated
buffers, which is what ``fp32.mul_native``/``fp32.add_native`` compute).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn

import numpy as np

from eftrain import fp32
from eftrain.config import HwConfig

__all__ = [
    "conv_fp",
    "conv_bp",
    "conv_wu",
    "relu_fp",
    "relu_bp",
    "maxpool_fp",
    "maxpool_bp",
    "fc_fp",
    "fc_bp",
    "fc_wu",
    "softmax_xent",
    "sgd",
]

# Conv and FC layouts, used in validation messages ("expected 4 [B,N,H,W]").
_X_LAYOUT = ("B", "N", "H", "W")
_W_LAYOUT = ("M", "N", "K", "K")
_DY_LAYOUT = ("B", "M", "Ho", "Wo")
_POOL_IN_LAYOUT = ("B", "C", "H", "W")
_POOL_OUT_LAYOUT = ("B", "C", "Ho", "Wo")

# Output words an exact-mode block of dot-mode work covers. Chosen so that the product
# buffer (TN words per output word) stays near the CPU's L2 cache; measured with
# eftrain.bench_oracle.
_DOT_BLOCK_WORDS = 1 << 14
# Products WU computes per vectorised multiply before its serial additions.
_WU_BLOCK_PRODUCTS = 1 << 17

# If every product of non-zero finite operands is at least 2^-103 in magnitude, no
# result of a dot or outer chain can be subnormal (see _flush_needed).
_NO_SUBNORMAL_PRODUCT_FLOOR = 2.0**-103


# --------------------------------------------------------------------------------------
# Validation: one checker shared by every public function.
# --------------------------------------------------------------------------------------


class _Checker:
    """Validates the arguments of one public function; messages start with its name."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, message: str) -> NoReturn:
        raise ValueError(f"{self.where}: {message}")

    def array(self, name: str, value, layout: Sequence[str] | None, dtype) -> np.ndarray:
        """``value`` as a numpy array of ``dtype`` with ``len(layout)`` non-empty axes
        (any shape if ``layout`` is None)."""
        arr = np.asarray(value)
        if arr.dtype.kind not in "iuf":
            self.fail(f"{name} must hold real numbers, got dtype {arr.dtype}")
        if layout is not None:
            if arr.ndim != len(layout):
                self.fail(
                    f"{name} has {arr.ndim} dims, expected {len(layout)} [{','.join(layout)}]"
                )
            for axis, (label, extent) in enumerate(zip(layout, arr.shape, strict=True)):
                if extent < 1:
                    self.fail(f"{name}.shape[{axis}] ({label}) must be >= 1, got {extent}")
        return np.asarray(arr, dtype=dtype)

    def extents_match(
        self,
        name: str,
        arr: np.ndarray,
        axis: int,
        ref_name: str,
        ref: np.ndarray,
        ref_axis: int,
        label: str,
    ) -> None:
        """``arr.shape[axis] == ref.shape[ref_axis]``; both extents are called ``label``."""
        if arr.shape[axis] != ref.shape[ref_axis]:
            self.fail(
                f"{name}.shape[{axis}] ({label}={arr.shape[axis]}) does not match "
                f"{ref_name}.shape[{ref_axis}] ({label}={ref.shape[ref_axis]})"
            )

    def shapes_match(self, name: str, arr: np.ndarray, ref_name: str, ref: np.ndarray) -> None:
        if arr.shape != ref.shape:
            self.fail(f"{name}.shape {arr.shape} does not match {ref_name}.shape {ref.shape}")

    def integer(self, name: str, value) -> int:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            self.fail(f"{name} must be an int, got {value!r}")
        return int(value)

    def stride(self, value) -> int:
        stride = self.integer("stride", value)
        if stride not in (1, 2):
            self.fail(f"stride must be 1 or 2, got {stride}")
        return stride

    def kernel(self, name: str, value) -> int:
        k = self.integer(name, value)
        if k < 1:
            self.fail(f"{name} must be >= 1, got {k}")
        return k

    def pad(self, value, k: int) -> int:
        pad = self.integer("pad", value)
        if not 0 <= pad <= k - 1:
            self.fail(f"pad must be in 0..K-1 (K={k}), got {pad}")
        return pad

    def square_kernel(self, w: np.ndarray) -> int:
        if w.shape[2] != w.shape[3]:
            self.fail(f"w must have a square kernel, got w.shape[2:] = {w.shape[2:]}")
        return w.shape[2]

    def in_hw(self, value) -> tuple[int, int]:
        if not isinstance(value, (tuple, list, np.ndarray)) or len(value) != 2:
            self.fail(f"in_hw must be a pair (H, W), got {value!r}")
        h, w = (self.integer(f"in_hw[{i}]", v) for i, v in enumerate(value))
        if h < 1 or w < 1:
            self.fail(f"in_hw must be positive, got {(h, w)}")
        return h, w

    def conv_out_size(
        self, in_hw: tuple[int, int], k: int, stride: int, pad: int
    ) -> tuple[int, int]:
        """(Ho, Wo) of a convolution of an ``in_hw`` input; both must be >= 1."""
        out = []
        for label, in_label, extent in (("Ho", "H", in_hw[0]), ("Wo", "W", in_hw[1])):
            size = (extent + 2 * pad - k) // stride + 1
            if size < 1:
                self.fail(
                    f"output size {label} = ({in_label} + 2*pad - K)//stride + 1 must be >= 1, "
                    f"got {size} ({in_label}={extent}, K={k}, pad={pad}, stride={stride})"
                )
            out.append(size)
        return out[0], out[1]

    def dy_spatial(self, dy: np.ndarray, out_hw: tuple[int, int], in_hw: tuple[int, int]) -> None:
        """``dy``'s pixel grid is the one the convolution of ``in_hw`` produces."""
        for axis, label, expected, in_label, extent in (
            (2, "Ho", out_hw[0], "H", in_hw[0]),
            (3, "Wo", out_hw[1], "W", in_hw[1]),
        ):
            if dy.shape[axis] != expected:
                self.fail(
                    f"dy.shape[{axis}] ({label}={dy.shape[axis]}) does not match the "
                    f"convolution output ({label}={expected} for {in_label}={extent})"
                )

    def tn(self, cfg) -> int | None:
        """The reduction width of ``cfg``, or None for the reference mode."""
        if cfg is None:
            return None
        if not isinstance(cfg, HwConfig):
            self.fail(f"cfg must be an eftrain.HwConfig or None, got {type(cfg).__name__}")
        return cfg.tn

    def scalar(self, name: str, value) -> float:
        arr = np.asarray(value)
        if arr.ndim != 0 or arr.dtype.kind not in "iuf":
            self.fail(f"{name} must be a real scalar, got {value!r}")
        return float(arr)


def _mode_array(
    check: _Checker, name: str, value, layout: Sequence[str] | None, tn: int | None
) -> np.ndarray:
    """An arithmetic layer's input: float64 in reference mode; in exact mode float32 read
    through ``ftz`` (the fp32 units treat subnormal inputs as zero)."""
    if tn is None:
        return check.array(name, value, layout, np.float64)
    with np.errstate(over="ignore"):  # values beyond the fp32 range round to +-inf
        arr = check.array(name, value, layout, np.float32)
    return fp32.ftz(arr).reshape(arr.shape)


def _select_array(check: _Checker, name: str, value, layout: Sequence[str] | None) -> np.ndarray:
    """A select-only layer's input: float32 stays float32 (bits kept), else float64."""
    is_fp32 = np.asarray(value).dtype == np.float32
    return check.array(name, value, layout, np.float32 if is_fp32 else np.float64)


def _comparable(values: np.ndarray) -> np.ndarray:
    """The values a select-only layer compares: fp32 subnormals read as zero, like the
    fp32 units (docs/numerics.md, section 6); float64 as is."""
    return fp32.ftz(values).reshape(values.shape) if values.dtype == np.float32 else values


def _nan_word(dtype) -> np.ndarray:
    """The NaN a select-only layer writes: the canonical fp32 NaN, or float64 NaN."""
    if dtype == np.float32:
        return fp32.from_bits(np.array(fp32.CANONICAL_NAN))
    return np.array(np.nan)


# --------------------------------------------------------------------------------------
# Exact mode: the chains of docs/numerics.md.
# --------------------------------------------------------------------------------------


def _flush_needed(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether a chain of products of ``a`` and ``b`` values can produce a subnormal.

    ``a`` and ``b`` hold no subnormals (inputs are read through ftz). If every product of
    non-zero finite values is at least 2^-103, then every finite value a dot or outer
    chain produces is an integer multiple of 2^-126: a normal fp32 number of exponent
    e >= -103 is a multiple of 2^(e-23), sums of multiples of 2^-126 are multiples of
    2^-126, and rounding such a sum to fp32 keeps it one (below 2^-103 it is exact,
    above it rounds to a coarser grid). A non-zero multiple of 2^-126 is not subnormal,
    so every flush is then the identity and is skipped. Infinities and NaNs never become
    subnormal. Any smaller operand product makes every operation flush.
    """

    def smallest_magnitude(v: np.ndarray) -> float:
        mag = np.abs(v[np.isfinite(v)])
        mag = mag[mag > 0]
        return float(mag.min()) if mag.size else np.inf

    # Python floats are float64: the product of two fp32 values is exact.
    return smallest_magnitude(a) * smallest_magnitude(b) < _NO_SUBNORMAL_PRODUCT_FLOOR


def _flusher(needed: bool) -> Callable[[np.ndarray], np.ndarray]:
    return fp32.ftz_inplace if needed else _no_flush


def _no_flush(values: np.ndarray) -> np.ndarray:
    return values


def _pad_axis(values: np.ndarray, axis: int, multiple: int) -> np.ndarray:
    """Zero-pad ``axis`` up to a multiple of ``multiple`` with +0.0 (docs/numerics.md,
    section 2: padded channels are +0.0 operands, not absent ones)."""
    extra = -values.shape[axis] % multiple
    if extra == 0:
        return values
    widths = [(0, 0)] * values.ndim
    widths[axis] = (0, extra)
    return np.pad(values, widths)


def _pad_spatial(values: np.ndarray, width: int) -> np.ndarray:
    """``width`` words of +0.0 around the two pixel axes of a [B,C,H,W] array."""
    return np.pad(values, ((0, 0), (0, 0), (width, width), (width, width)))


def _tap_view(xp: np.ndarray, i: int, j: int, stride: int, out_hw: tuple[int, int]) -> np.ndarray:
    """xp[:, :, oy*stride + i, ox*stride + j] for all output pixels (oy, ox): a view."""
    out_h, out_w = out_hw
    return xp[
        :, :, i : i + stride * (out_h - 1) + 1 : stride, j : j + stride * (out_w - 1) + 1 : stride
    ]


def _require_ieee_subnormals() -> None:
    """The exact mode's hot loops use numpy float32 arithmetic directly (what
    ``fp32.mul_native``/``add_native`` do); it is exact only while the CPU rounds
    subnormal results the IEEE way, which a native library could have switched off."""
    fp32.check_ieee_subnormals()


@dataclass(frozen=True)
class _DotStep:
    """One step of a dot-mode chain: ``acc <- add(acc, tree(mul(act, weights)))``.

    The activation operand of output pixel (q, r) and tree lane t is
    ``act[b, channel0 + t, row0 + stride*q, col0 + stride*r]``; ``weights[t, o]`` is the
    weight of lane t for output lane o.
    """

    channel0: int
    row0: int
    col0: int
    weights: np.ndarray  # [TN, O] float32, contiguous


def _dot_mode_exact(
    act: np.ndarray,
    stride: int,
    out_hw: tuple[int, int],
    steps: Sequence[_DotStep],
    tn: int,
    n_out: int,
    flush_needed: bool,
) -> np.ndarray:
    """Run the dot-mode chain ``steps`` for every output word; returns [B, O, Ho, Wo].

    Output words are independent, so they are computed in blocks sized for the cache;
    each block runs the whole chain in order.
    """
    batch = act.shape[0]
    out_h, out_w = out_hw
    out = np.empty((batch, n_out, out_h, out_w), np.float32)
    words_per_image = n_out * out_h * out_w
    images_per_block = max(1, _DOT_BLOCK_WORDS // words_per_image)
    rows_per_block = out_h if images_per_block > 1 else max(1, _DOT_BLOCK_WORDS // (n_out * out_w))
    flush = _flusher(flush_needed)
    _require_ieee_subnormals()
    for b0 in range(0, batch, images_per_block):
        b1 = min(batch, b0 + images_per_block)
        for r0 in range(0, out_h, rows_per_block):
            r1 = min(out_h, r0 + rows_per_block)
            block = _dot_mode_block(act[b0:b1], stride, (r0, r1), out_w, steps, tn, n_out, flush)
            out[b0:b1, :, r0:r1] = block
    return out


def _dot_mode_block(
    act: np.ndarray,
    stride: int,
    rows: tuple[int, int],
    out_w: int,
    steps: Sequence[_DotStep],
    tn: int,
    n_out: int,
    flush: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """Output rows ``rows`` of the images in ``act``: [b, O, rows, Wo]."""
    r0, r1 = rows
    n_img, n_rows = act.shape[0], r1 - r0
    pixels = n_rows * out_w
    acc = np.zeros((n_img, n_out, pixels), np.float32)  # the accumulator starts at +0.0
    act_tile = np.empty((tn, n_img, n_rows, out_w), np.float32)
    products = np.empty((tn, n_img, n_out, pixels), np.float32)
    # One buffer per adder-tree level: TN/2, TN/4, ..., 1 partial sums per output word.
    level_bufs = []
    width = tn // 2
    while width >= 1:
        level_bufs.append(np.empty((width, n_img, n_out, pixels), np.float32))
        width //= 2
    with np.errstate(all="ignore"):
        for step in steps:
            lanes = act[:, step.channel0 : step.channel0 + tn]
            operands = _tap_view(lanes, step.row0 + stride * r0, step.col0, stride, (n_rows, out_w))
            np.copyto(act_tile, operands.transpose(1, 0, 2, 3))
            np.multiply(
                act_tile.reshape(tn, n_img, 1, pixels), step.weights[:, None, :, None], out=products
            )
            flush(products)
            level = products
            for nxt in level_bufs:  # balanced tree of adjacent pairs (section 2)
                np.add(level[0::2], level[1::2], out=nxt)
                flush(nxt)
                level = nxt
            np.add(acc, level[0], out=acc)
            flush(acc)
    fp32.canon_inplace(acc)
    return acc.reshape(n_img, n_out, n_rows, out_w)


def _conv_fp_exact(x: np.ndarray, w: np.ndarray, stride: int, pad: int, tn: int) -> np.ndarray:
    k = w.shape[2]
    xp = _pad_spatial(_pad_axis(x, 1, tn), pad)
    wp = _pad_axis(w, 1, tn)
    out_hw = ((xp.shape[2] - k) // stride + 1, (xp.shape[3] - k) // stride + 1)
    # docs/numerics.md section 3 (FP): channel tile nt, then kernel row i ascending,
    # then kernel column j ascending.
    steps = [
        _DotStep(nt, i, j, np.ascontiguousarray(wp[:, nt : nt + tn, i, j].T))
        for nt in range(0, wp.shape[1], tn)
        for i in range(k)
        for j in range(k)
    ]
    return _dot_mode_exact(xp, stride, out_hw, steps, tn, w.shape[0], _flush_needed(x, w))


def _conv_bp_exact(
    dy: np.ndarray, w: np.ndarray, in_hw: tuple[int, int], stride: int, pad: int, tn: int
) -> np.ndarray:
    k = w.shape[2]
    n_in = w.shape[1]
    height, width = in_hw
    # Kernel positions read dy at (y + pad - i) / stride, which lies in -(K-1) ..
    # Ho-1+K for every y in 0..H-1: K words of +0.0 on each side make dy_ext (section 3).
    dy_ext = _pad_spatial(_pad_axis(dy, 1, tn), k)
    wp = _pad_axis(w, 0, tn)
    flush_needed = _flush_needed(dy, w)
    dx = np.empty((dy.shape[0], n_in, height, width), np.float32)
    # Output rows y = phase_y (mod stride) share one set of contributing kernel rows and
    # read dy at consecutive rows; likewise for columns. One chain per parity phase.
    for phase_y in range(stride):
        for phase_x in range(stride):
            out_hw = (len(range(phase_y, height, stride)), len(range(phase_x, width, stride)))
            if 0 in out_hw:
                continue
            rows = [i for i in range(k - 1, -1, -1) if (phase_y + pad - i) % stride == 0]
            cols = [j for j in range(k - 1, -1, -1) if (phase_x + pad - j) % stride == 0]
            # docs/numerics.md section 3 (BP): output-channel tile mt, then kernel row i
            # descending, then column j descending; positions of the other parity are
            # skipped, not multiplied.
            steps = [
                _DotStep(
                    mt,
                    k + (phase_y + pad - i) // stride,
                    k + (phase_x + pad - j) // stride,
                    np.ascontiguousarray(wp[mt : mt + tn, :, i, j]),
                )
                for mt in range(0, wp.shape[0], tn)
                for i in rows
                for j in cols
            ]
            dx[:, :, phase_y::stride, phase_x::stride] = _dot_mode_exact(
                dy_ext, 1, out_hw, steps, tn, n_in, flush_needed
            )
    return dx


def _conv_wu_exact(x: np.ndarray, dy: np.ndarray, k: int, stride: int, pad: int) -> np.ndarray:
    batch, n_in = x.shape[:2]
    n_out, out_h, out_w = dy.shape[1:]
    xp = _pad_spatial(x, pad)
    # windows[b, n, oy, ox, i, j] = xp[b, n, oy*stride + i, ox*stride + j]
    windows = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride][:, :, :out_h, :out_w]
    taps = n_in * k * k
    pixels = out_h * out_w
    block = max(1, min(pixels, _WU_BLOCK_PRODUCTS // (n_out * taps)))
    flush = _flusher(_flush_needed(x, dy))
    acc = np.zeros((n_out, taps), np.float32)  # one serial chain per dW word, from +0.0
    products = np.empty((block, n_out, taps), np.float32)
    _require_ieee_subnormals()
    with np.errstate(all="ignore"):
        for b in range(batch):
            # Pixel-major copies so that one pixel's operands are contiguous.
            x_by_pixel = np.ascontiguousarray(windows[b].transpose(1, 2, 0, 3, 4)).reshape(
                pixels, taps
            )
            dy_by_pixel = np.ascontiguousarray(dy[b].reshape(n_out, pixels).T)
            # docs/numerics.md section 4: the chain runs over b, then oy, then ox
            # (row-major pixels); products are computed a block ahead, added serially.
            for p0 in range(0, pixels, block):
                p1 = min(pixels, p0 + block)
                prods = products[: p1 - p0]
                np.multiply(dy_by_pixel[p0:p1, :, None], x_by_pixel[p0:p1, None, :], out=prods)
                flush(prods)
                for product in prods:
                    np.add(acc, product, out=acc)
                    flush(acc)
    fp32.canon_inplace(acc)
    return acc.reshape(n_out, n_in, k, k)


# --------------------------------------------------------------------------------------
# Reference mode: the plain float64 definitions.
# --------------------------------------------------------------------------------------


def _conv_fp_reference(x: np.ndarray, w: np.ndarray, stride: int, pad: int) -> np.ndarray:
    batch, n_out, k = x.shape[0], w.shape[0], w.shape[2]
    xp = _pad_spatial(x, pad)
    out_hw = ((xp.shape[2] - k) // stride + 1, (xp.shape[3] - k) // stride + 1)
    y = np.zeros((batch, n_out, *out_hw))
    for i in range(k):
        for j in range(k):
            taps = _tap_view(xp, i, j, stride, out_hw)
            y += np.einsum("mn,bnhw->bmhw", w[:, :, i, j], taps)
    return y


def _conv_bp_reference(
    dy: np.ndarray, w: np.ndarray, in_hw: tuple[int, int], stride: int, pad: int
) -> np.ndarray:
    # The adjoint of the forward gather: scatter every dy word back to the inputs it read.
    k = w.shape[2]
    height, width = in_hw
    out_hw = dy.shape[2:]
    dxp = np.zeros((dy.shape[0], w.shape[1], height + 2 * pad, width + 2 * pad))
    for i in range(k):
        for j in range(k):
            _tap_view(dxp, i, j, stride, out_hw)[...] += np.einsum(
                "mn,bmhw->bnhw", w[:, :, i, j], dy
            )
    return dxp[:, :, pad : pad + height, pad : pad + width]


def _conv_wu_reference(x: np.ndarray, dy: np.ndarray, k: int, stride: int, pad: int) -> np.ndarray:
    xp = _pad_spatial(x, pad)
    out_hw = dy.shape[2:]
    dw = np.empty((dy.shape[1], x.shape[1], k, k))
    for i in range(k):
        for j in range(k):
            dw[:, :, i, j] = np.einsum("bmhw,bnhw->mn", dy, _tap_view(xp, i, j, stride, out_hw))
    return dw


# --------------------------------------------------------------------------------------
# Public API.
# --------------------------------------------------------------------------------------


def _conv_fp(x: np.ndarray, w: np.ndarray, stride: int, pad: int, tn: int | None) -> np.ndarray:
    if tn is None:
        return _conv_fp_reference(x, w, stride, pad)
    return _conv_fp_exact(x, w, stride, pad, tn)


def _conv_bp(
    dy: np.ndarray, w: np.ndarray, in_hw: tuple[int, int], stride: int, pad: int, tn: int | None
) -> np.ndarray:
    if tn is None:
        return _conv_bp_reference(dy, w, in_hw, stride, pad)
    return _conv_bp_exact(dy, w, in_hw, stride, pad, tn)


def _conv_wu(
    x: np.ndarray, dy: np.ndarray, k: int, stride: int, pad: int, tn: int | None
) -> np.ndarray:
    if tn is None:
        return _conv_wu_reference(x, dy, k, stride, pad)
    return _conv_wu_exact(x, dy, k, stride, pad)


def conv_fp(x, w, stride: int = 1, pad: int = 0, cfg: HwConfig | None = None) -> np.ndarray:
    """Convolution forward: ``y[b,m,oy,ox] = sum_{n,i,j} xp[b,n,oy*s+i,ox*s+j] w[m,n,i,j]``
    with ``xp`` the input padded by ``pad`` zeros. x [B,N,H,W], w [M,N,K,K] -> y [B,M,Ho,Wo]."""
    check = _Checker("conv_fp")
    tn = check.tn(cfg)
    x = _mode_array(check, "x", x, _X_LAYOUT, tn)
    w = _mode_array(check, "w", w, _W_LAYOUT, tn)
    k = check.square_kernel(w)
    check.extents_match("w", w, 1, "x", x, 1, "N")
    stride, pad = check.stride(stride), check.pad(pad, k)
    check.conv_out_size(x.shape[2:], k, stride, pad)
    return _conv_fp(x, w, stride, pad, tn)


def conv_bp(dy, w, in_hw, stride: int = 1, pad: int = 0, cfg: HwConfig | None = None) -> np.ndarray:
    """Convolution backward to the input: ``dx = dL/dx`` given ``dy = dL/dy`` of the
    ``conv_fp`` of an ``in_hw = (H, W)`` input. dy [B,M,Ho,Wo], w [M,N,K,K] -> dx [B,N,H,W]."""
    check = _Checker("conv_bp")
    tn = check.tn(cfg)
    dy = _mode_array(check, "dy", dy, _DY_LAYOUT, tn)
    w = _mode_array(check, "w", w, _W_LAYOUT, tn)
    k = check.square_kernel(w)
    check.extents_match("dy", dy, 1, "w", w, 0, "M")
    in_hw = check.in_hw(in_hw)
    stride, pad = check.stride(stride), check.pad(pad, k)
    check.dy_spatial(dy, check.conv_out_size(in_hw, k, stride, pad), in_hw)
    return _conv_bp(dy, w, in_hw, stride, pad, tn)


def conv_wu(
    x, dy, k: int, stride: int = 1, pad: int = 0, cfg: HwConfig | None = None
) -> np.ndarray:
    """Convolution weight gradient: ``dw[m,n,i,j] = sum_{b,oy,ox} dy[b,m,oy,ox]
    xp[b,n,oy*s+i,ox*s+j]``. x [B,N,H,W], dy [B,M,Ho,Wo] -> dw [M,N,k,k]."""
    check = _Checker("conv_wu")
    tn = check.tn(cfg)
    x = _mode_array(check, "x", x, _X_LAYOUT, tn)
    dy = _mode_array(check, "dy", dy, _DY_LAYOUT, tn)
    k = check.kernel("k", k)
    check.extents_match("dy", dy, 0, "x", x, 0, "B")
    stride, pad = check.stride(stride), check.pad(pad, k)
    check.dy_spatial(dy, check.conv_out_size(x.shape[2:], k, stride, pad), x.shape[2:])
    return _conv_wu(x, dy, k, stride, pad, tn)


# Fully connected layers are 1x1 convolutions (docs/numerics.md, section 5): the batch
# is the image axis of FP/BP and the serial chain of WU.


def fc_fp(x, w, cfg: HwConfig | None = None) -> np.ndarray:
    """Fully connected forward ``y = x @ w.T``. x [B,N], w [M,N] -> y [B,M]."""
    check = _Checker("fc_fp")
    tn = check.tn(cfg)
    x = _mode_array(check, "x", x, ("B", "N"), tn)
    w = _mode_array(check, "w", w, ("M", "N"), tn)
    check.extents_match("w", w, 1, "x", x, 1, "N")
    return _conv_fp(x[:, :, None, None], w[:, :, None, None], 1, 0, tn)[:, :, 0, 0]


def fc_bp(dy, w, cfg: HwConfig | None = None) -> np.ndarray:
    """Fully connected backward ``dx = dy @ w``. dy [B,M], w [M,N] -> dx [B,N]."""
    check = _Checker("fc_bp")
    tn = check.tn(cfg)
    dy = _mode_array(check, "dy", dy, ("B", "M"), tn)
    w = _mode_array(check, "w", w, ("M", "N"), tn)
    check.extents_match("dy", dy, 1, "w", w, 0, "M")
    return _conv_bp(dy[:, :, None, None], w[:, :, None, None], (1, 1), 1, 0, tn)[:, :, 0, 0]


def fc_wu(x, dy, cfg: HwConfig | None = None) -> np.ndarray:
    """Fully connected weight gradient ``dw = dy.T @ x``. x [B,N], dy [B,M] -> dw [M,N]."""
    check = _Checker("fc_wu")
    tn = check.tn(cfg)
    x = _mode_array(check, "x", x, ("B", "N"), tn)
    dy = _mode_array(check, "dy", dy, ("B", "M"), tn)
    check.extents_match("dy", dy, 0, "x", x, 0, "B")
    return _conv_wu(x[:, :, None, None], dy[:, :, None, None], 1, 1, 0, tn)[:, :, 0, 0]


def relu_fp(x) -> np.ndarray:
    """ReLU: ``x`` where ``x > 0``, NaN where ``x`` is NaN (canonical for fp32), else +0.
    Any shape; float32 stays float32, other dtypes give float64."""
    x = _select_array(_Checker("relu_fp"), "x", x, None)
    y = np.where(_comparable(x) > 0, x, x.dtype.type(0))
    return np.where(np.isnan(x), _nan_word(x.dtype), y)


def relu_bp(dy, y) -> np.ndarray:
    """ReLU backward: ``dy`` (bits unchanged) where the forward output ``y > 0``, else +0."""
    check = _Checker("relu_bp")
    dy = _select_array(check, "dy", dy, None)
    y = _select_array(check, "y", y, None)
    check.shapes_match("dy", dy, "y", y)
    return np.where(_comparable(y) > 0, dy, dy.dtype.type(0))


# Max-pool window positions in scan order: idx k is window row k // 2, column k % 2.
_POOL_SCAN = ((0, 0), (0, 1), (1, 0), (1, 1))


def _pool_view(values: np.ndarray, k: int, out_hw: tuple[int, int]) -> np.ndarray:
    """Window position ``k`` of every 2x2 stride-2 window: a [B,C,Ho,Wo] view."""
    di, dj = _POOL_SCAN[k]
    return values[:, :, di : di + 2 * out_hw[0] : 2, dj : dj + 2 * out_hw[1] : 2]


def maxpool_fp(x) -> tuple[np.ndarray, np.ndarray]:
    """2x2 stride-2 max-pool, odd trailing rows/columns dropped. x [B,C,H,W] ->
    (y [B,C,H//2,W//2], idx uint8 0..3). Scan order (0,0),(0,1),(1,0),(1,1); a candidate
    wins only if strictly greater, so ties keep the first (docs/numerics.md, section 6)."""
    check = _Checker("maxpool_fp")
    x = _select_array(check, "x", x, _POOL_IN_LAYOUT)
    height, width = x.shape[2:]
    if height < 2 or width < 2:
        check.fail(f"x must be at least 2x2 (H, W), got H={height}, W={width}")
    out_hw = (height // 2, width // 2)
    compared = _comparable(x)
    y = _pool_view(x, 0, out_hw).copy()
    best = _pool_view(compared, 0, out_hw).copy()
    idx = np.zeros(y.shape, np.uint8)
    for k in range(1, len(_POOL_SCAN)):
        candidate = _pool_view(compared, k, out_hw)
        wins = candidate > best  # False against or for NaN: NaN wins only when first
        np.copyto(y, _pool_view(x, k, out_hw), where=wins)
        np.copyto(best, candidate, where=wins)
        idx[wins] = k
    return y, idx


def maxpool_bp(dy, idx, in_hw) -> np.ndarray:
    """Max-pool backward: ``dx`` [B,C,H,W] is +0 except at each window's argmax ``idx``,
    which gets ``dy`` (bits unchanged). dy, idx [B,C,H//2,W//2]; in_hw = (H, W)."""
    check = _Checker("maxpool_bp")
    dy = _select_array(check, "dy", dy, _POOL_OUT_LAYOUT)
    idx = np.asarray(idx)
    if idx.dtype.kind not in "iu":
        check.fail(f"idx must hold integers, got dtype {idx.dtype}")
    check.shapes_match("idx", idx, "dy", dy)
    if idx.size and (idx.min() < 0 or idx.max() > 3):
        check.fail(f"idx values must be in 0..3, got {idx.min()}..{idx.max()}")
    height, width = check.in_hw(in_hw)
    if (height // 2, width // 2) != dy.shape[2:]:
        check.fail(
            f"in_hw {(height, width)} does not match dy's pixel grid {dy.shape[2:]} "
            f"(expected (H//2, W//2))"
        )
    dx = np.zeros((*dy.shape[:2], height, width), dy.dtype)
    for k in range(len(_POOL_SCAN)):
        _pool_view(dx, k, dy.shape[2:])[...] = np.where(idx == k, dy, dy.dtype.type(0))
    return dx


def softmax_xent(logits, labels) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy and its gradient, on the host in float64 (docs/numerics.md,
    section 6). logits [B,C], labels int [B] in 0..C-1 -> (loss, dlogits [B,C] in logits'
    dtype: float32 stays float32, anything else float64)."""
    check = _Checker("softmax_xent")
    out_dtype = np.float32 if np.asarray(logits).dtype == np.float32 else np.float64
    z = check.array("logits", logits, ("B", "C"), np.float64)
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        check.fail(f"labels must hold integers, got dtype {labels.dtype}")
    if labels.ndim != 1:
        check.fail(f"labels has {labels.ndim} dims, expected 1 [B]")
    check.extents_match("labels", labels, 0, "logits", z, 0, "B")
    n_classes = z.shape[1]
    if labels.min() < 0 or labels.max() >= n_classes:
        check.fail(f"labels must be in 0..C-1 (C={n_classes}), got {labels.min()}..{labels.max()}")
    batch = z.shape[0]
    rows = np.arange(batch)
    shifted = z - z.max(axis=1, keepdims=True)  # max-subtracted: exp never overflows
    log_sum = np.log(np.exp(shifted).sum(axis=1))
    loss = float(np.mean(log_sum - shifted[rows, labels]))
    grad = np.exp(shifted - log_sum[:, None])
    grad[rows, labels] -= 1.0
    return loss, (grad / batch).astype(out_dtype)


def sgd(w, dw, lr, cfg: HwConfig | None = None) -> np.ndarray:
    """SGD step ``w - lr * dw``. Exact mode: ``add(w, neg(mul(lr, dw)))`` with ``lr``
    rounded to fp32 (the descriptor field) and ``neg`` flipping the sign bit."""
    check = _Checker("sgd")
    tn = check.tn(cfg)
    w = _mode_array(check, "w", w, None, tn)
    dw = _mode_array(check, "dw", dw, None, tn)
    check.shapes_match("dw", dw, "w", w)
    lr = check.scalar("lr", lr)
    if tn is None:
        return w - lr * dw
    step = fp32.mul_native(np.float32(lr), dw)
    step.view(np.uint32)[...] ^= fp32.SIGN_MASK  # neg: exact, only the sign bit changes
    return fp32.add_native(w, step)
