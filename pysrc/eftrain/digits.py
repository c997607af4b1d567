"""The adaptation demo's data: scikit-learn's 8x8 handwritten digits (shipped inside the
package, nothing is downloaded), split three ways, and the domain shift the device adapts to.

* ``pretrain``: upright digits the model is trained on "in the cloud" (the oracle);
* ``adapt``: different digits, seen through the shifted sensor, that the device trains on;
* ``test``: held-out digits, never trained on, for the accuracy before and after adaptation
  (on the shifted domain, and on the original one to show what adapting costs there).

The shift is a sensor mounted off-centre: every image moves ``SHIFT_PIXELS`` columns to
the right and the columns it uncovers on the left read as blank background. The digits
fill most of the 8-pixel width, so the last columns fall off the edge, and a small CNN
trained on centred digits loses most of its accuracy (about 96 % -> 30 % for the demo's).
Unlike a rotation or an inversion, the low-level strokes stay the same, which is the
situation where retraining only the last layers on the device pays off.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLASSES = 10
IMAGE_SHAPE = (1, 8, 8)
PIXEL_MAX = 16.0  # load_digits' grey levels are 0..16
SHIFT_PIXELS = 2
# Shares of the data set: the rest after pre-training and the test split is the adapt pool.
PRETRAIN_SHARE = 0.5
TEST_SHARE = 0.25


@dataclass(frozen=True)
class DigitSplits:
    """Images float32 [N, 1, 8, 8] in 0..1, labels int64 [N], three disjoint splits. The
    adapt and test images are the original (unshifted) ones; apply ``sensor_shift``."""

    pretrain_x: np.ndarray
    pretrain_y: np.ndarray
    adapt_x: np.ndarray
    adapt_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray


def normalise(images: np.ndarray) -> np.ndarray:
    """Grey levels 0..16 [N, 8, 8] -> float32 [N, 1, 8, 8] in 0..1. No mean subtraction:
    the layers have no bias, and a zero background keeps empty regions at zero, like the
    convolutions' zero padding and the blank columns of the shifted sensor."""
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE[1:]:
        raise ValueError(f"digits.normalise: images must be [N, 8, 8], got shape {images.shape}")
    return (images.astype(np.float32) / np.float32(PIXEL_MAX))[:, None]


def sensor_shift(x: np.ndarray, pixels: int = SHIFT_PIXELS) -> np.ndarray:
    """The shifted domain: ``x`` [N, C, H, W] moved ``pixels`` columns to the right, the
    uncovered left columns blank (0), the rightmost ``pixels`` columns lost."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"digits.sensor_shift: x must be [N, C, H, W], got shape {x.shape}")
    if not 0 <= pixels < x.shape[3]:
        raise ValueError(f"digits.sensor_shift: pixels must be in 0..{x.shape[3] - 1}, got {pixels}")
    shifted = np.zeros_like(x)
    shifted[..., pixels:] = x[..., : x.shape[3] - pixels]
    return shifted


def load_splits(seed: int = 0) -> DigitSplits:
    """The three splits, stratified by class (every split holds every digit in the data
    set's proportions), drawn with ``seed``."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = normalise(data.images)
    y = data.target.astype(np.int64)
    rest_x, test_x, rest_y, test_y = train_test_split(
        x, y, test_size=TEST_SHARE, stratify=y, random_state=seed)
    pretrain_x, adapt_x, pretrain_y, adapt_y = train_test_split(
        rest_x, rest_y, train_size=PRETRAIN_SHARE / (1 - TEST_SHARE), stratify=rest_y, random_state=seed)
    return DigitSplits(pretrain_x, pretrain_y, adapt_x, adapt_y, test_x, test_y)


def batches(n_items: int, batch: int, rng: np.random.Generator):
    """Endless index batches of size ``batch`` over ``n_items``: a fresh permutation per
    epoch, so every image is used once before any is reused; a short tail is skipped."""
    if not 0 < batch <= n_items:
        raise ValueError(f"digits.batches: batch must be in 1..{n_items} (the split's size), got {batch}")
    while True:
        order = rng.permutation(n_items)
        for start in range(0, n_items - batch + 1, batch):
            yield order[start : start + batch]
