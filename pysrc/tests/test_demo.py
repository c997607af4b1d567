"""The adaptation demo (eftrain.demo, eftrain.digits, `eftrain train`): the data pipeline,
the domain shift, the bit comparison, a tiny oracle run end to end, and the command's
argument errors. The rtl backend's bit-exactness is the trainer's to test; here the
demo's own logic is checked without a simulator."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eftrain import HwConfig, digits, oracle
from eftrain.cli import main
from eftrain.demo import (ADAPTED_WEIGHTS_FILE, PLOT_FILE, SUMMARY_FILE, DemoSettings, compare_step,
                          progress_bar, run)

TINY_HW = HwConfig(tm=4, tn=4, ib_depth=512, ob_depth=512, wb_depth=256)


# ---- data ------------------------------------------------------------------------------------


def test_normalise_scales_grey_levels_to_unit_range():
    grey = np.array([[[0, 8, 16] + [0] * 5] + [[0] * 8] * 7])
    x = digits.normalise(grey)
    assert x.dtype == np.float32 and x.shape == (1, 1, 8, 8)
    assert x[0, 0, 0, :3].tolist() == [0.0, 0.5, 1.0]
    with pytest.raises(ValueError, match=r"normalise: images must be \[N, 8, 8\]"):
        digits.normalise(np.zeros((2, 8, 7)))


def test_sensor_shift_moves_columns_right_and_blanks_the_left(rng):
    x = rng.random((5, 1, 8, 8), dtype=np.float32) + np.float32(0.5)  # no zero pixels
    for pixels in (0, 1, digits.SHIFT_PIXELS, 7):
        shifted = digits.sensor_shift(x, pixels)
        assert shifted.shape == x.shape and shifted.dtype == x.dtype
        for col in range(8):
            expected = x[..., col - pixels] if col >= pixels else np.zeros_like(x[..., 0])
            assert np.array_equal(shifted[..., col], expected), (pixels, col)
    assert np.array_equal(digits.sensor_shift(x), digits.sensor_shift(x, 2)), "the demo's shift is 2 pixels"
    with pytest.raises(ValueError, match=r"sensor_shift: pixels must be in 0\.\.7, got 8"):
        digits.sensor_shift(x, 8)
    with pytest.raises(ValueError, match=r"sensor_shift: x must be \[N, C, H, W\]"):
        digits.sensor_shift(x[0])


def _rows(x: np.ndarray, y: np.ndarray) -> list[bytes]:
    return sorted(img.tobytes() + bytes([label]) for img, label in zip(x, y))


def test_splits_partition_the_data_set_by_class(seed):
    from sklearn.datasets import load_digits

    data = load_digits()
    s = digits.load_splits(seed)
    sizes = (len(s.pretrain_y), len(s.adapt_y), len(s.test_y))
    assert sum(sizes) == len(data.target)
    assert sizes[0] == pytest.approx(len(data.target) * digits.PRETRAIN_SHARE, abs=1)
    assert sizes[2] == pytest.approx(len(data.target) * digits.TEST_SHARE, abs=1)
    # The three splits together are the data set, each image once (as a multiset).
    together = _rows(np.concatenate([s.pretrain_x, s.adapt_x, s.test_x]),
                     np.concatenate([s.pretrain_y, s.adapt_y, s.test_y]))
    assert together == _rows(digits.normalise(data.images), data.target)
    for labels in (s.pretrain_y, s.adapt_y, s.test_y):
        counts = np.bincount(labels, minlength=digits.CLASSES)
        share = counts / counts.sum()
        expected = np.bincount(data.target) / len(data.target)
        assert np.abs(share - expected).max() < 0.01, "stratified: every split keeps the class mix"
    again = digits.load_splits(seed)
    assert np.array_equal(again.test_x, s.test_x) and np.array_equal(again.adapt_y, s.adapt_y)
    assert not np.array_equal(digits.load_splits(seed + 1).test_y, s.test_y)


def test_batches_use_every_item_once_per_epoch(rng):
    order = digits.batches(10, 3, rng)
    epoch = [next(order) for _ in range(3)]  # 3 batches of 3, the short tail skipped
    assert all(len(b) == 3 for b in epoch)
    assert len(set(np.concatenate(epoch).tolist())) == 9
    with pytest.raises(ValueError, match=r"batches: batch must be in 1\.\.10"):
        next(digits.batches(10, 11, rng))


# ---- the bit comparison ------------------------------------------------------------------------


def test_compare_step_finds_any_flipped_bit(rng):
    logits = rng.standard_normal((4, 10)).astype(np.float32)
    weights = {"conv2": rng.standard_normal((16, 8, 3, 3)).astype(np.float32),
               "fc1": rng.standard_normal((10, 64)).astype(np.float32)}
    copy = {k: v.copy() for k, v in weights.items()}
    assert compare_step(1.25, logits, weights, 1.25, logits.copy(), copy) == []

    flipped = copy["fc1"].copy()
    flipped.view(np.uint32)[3, 7] ^= 1  # one ulp
    assert compare_step(1.25, logits, weights, 1.25, logits, {**copy, "fc1": flipped}) == ["fc1 weights"]
    plus_zero, minus_zero = logits.copy(), logits.copy()
    plus_zero[0, 0], minus_zero[0, 0] = 0.0, -0.0
    assert compare_step(1.25, plus_zero, weights, 1.25, minus_zero, copy) == ["logits"], "-0 != +0 in bits"
    assert compare_step(1.25, logits, weights, np.nextafter(1.25, 2.0), logits, copy) == ["loss"]


def test_progress_bar():
    assert progress_bar(0, 4, width=8) == "[........]"
    assert progress_bar(1, 4, width=8) == "[##......]"
    assert progress_bar(4, 4, width=8) == "[########]"


# ---- the demo end to end, tiny, on the oracle -------------------------------------------------


def _oracle_accuracy(weights: dict[str, np.ndarray], x: np.ndarray, labels: np.ndarray) -> float:
    """The network's accuracy straight from eftrain.oracle's layers (not through the
    Trainer): conv, ReLU, pool twice, then the FC as the 2x2 convolution it runs as."""
    a = x
    for name in ("conv1", "conv2"):
        a = oracle.maxpool_fp(oracle.relu_fp(oracle.conv_fp(a, weights[name], 1, 1, cfg=TINY_HW)))[0]
    fc = weights["fc1"].reshape(digits.CLASSES, *a.shape[1:])
    logits = oracle.conv_fp(a, fc, 1, 0, cfg=TINY_HW)[:, :, 0, 0]
    return float(np.mean(logits.argmax(axis=1) == labels))


def test_two_step_oracle_demo(tmp_path, seed):
    settings = DemoSettings(steps=2, batch=4, lr=0.05, backend="oracle", hw=TINY_HW, out_dir=tmp_path,
                            seed=seed, pretrain_steps=3, pretrain_batch=8)
    lines: list[str] = []
    result = run(settings, log=lines.append)

    assert [r.step for r in result.steps] == [1, 2]
    assert all(r.bit_exact is None and np.isfinite(r.loss) for r in result.steps)
    assert any("step 1/2 [" in line for line in lines) and any("step 2/2 [" in line for line in lines)
    assert (tmp_path / PLOT_FILE).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((tmp_path / SUMMARY_FILE).read_text())
    assert len(summary["steps"]) == 2 and summary["settings"]["backend"] == "oracle"

    # Only the last layers adapt; the frozen conv1 keeps the pre-trained bits.
    pretrained_file, = tmp_path.glob("pretrained-*.npz")
    with np.load(pretrained_file) as pre, np.load(tmp_path / ADAPTED_WEIGHTS_FILE) as post:
        pretrained, adapted = dict(pre), dict(post)
    assert np.array_equal(pretrained["conv1"].view(np.uint32), adapted["conv1"].view(np.uint32))
    assert not np.array_equal(pretrained["fc1"], adapted["fc1"])
    assert not np.array_equal(pretrained["conv2"], adapted["conv2"])

    # The accuracies it reports are those of the shifted (and upright) held-out digits.
    data = digits.load_splits(seed)
    shifted = digits.sensor_shift(data.test_x)
    assert result.accuracy_shifted_before == _oracle_accuracy(pretrained, shifted, data.test_y)
    assert result.accuracy_original_before == _oracle_accuracy(pretrained, data.test_x, data.test_y)
    assert result.accuracy_shifted_after == _oracle_accuracy(adapted, shifted, data.test_y)

    # A second run with the same pre-training settings takes the weights from the cache.
    again = run(settings, log=lambda line: None)
    assert again.pretrain_cached and not result.pretrain_cached
    assert again.accuracy_shifted_before == result.accuracy_shifted_before


def test_settings_errors_name_the_field():
    with pytest.raises(ValueError, match=r"DemoSettings\.steps must be an int >= 1, got 0"):
        DemoSettings(steps=0)
    with pytest.raises(ValueError, match=r"DemoSettings\.lr must be a positive number"):
        DemoSettings(lr=-0.1)
    with pytest.raises(ValueError, match=r"DemoSettings\.backend must be one of oracle, rtl, got 'fpga'"):
        DemoSettings(backend="fpga")


# ---- the command's argument errors --------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (["--steps", "0"], "argument --steps: must be at least 1, got 0"),
    (["--batch", "two"], "argument --batch: expected a whole number, got 'two'"),
    (["--lr", "nan"], "argument --lr: must be a positive finite number"),
    (["--backend", "fpga"], "argument --backend: invalid choice: 'fpga'"),
    (["--seed", "-1"], "argument --seed: must be at least 0, got -1"),
    (["--tm", "8"], "HwConfig.tm must equal tn (4), got 8"),
    (["--tn", "6", "--tm", "6"], "HwConfig.tn must be a power of two"),
    (["--batch", "1000"], "DemoSettings.batch must be at most 449 (the adapt split), got 1000"),
    (["--ib-depth", "8"], "DemoSettings.pretrain_batch=32 on TM=TN=4, IB/OB 8/512, WB 256: conv1"),
])
def test_train_command_rejects_bad_options(args, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as stop:
        main(["train", "--out", str(tmp_path), *args])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "usage: eftrain train" in err and message in err
    assert not any(tmp_path.iterdir()), "nothing runs before the options are checked"
