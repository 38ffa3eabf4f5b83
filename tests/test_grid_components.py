"""grid_cells.components: 16-bit labels, the same labels and stats as OpenCV's 32-bit ones."""
from __future__ import annotations

import cv2
import numpy as np

from pipeline.grid_cells import components


def _cv(mask, connectivity):
    n, lab, st, _ = cv2.connectedComponentsWithStats(mask, connectivity=connectivity)
    return n, lab, st


def test_same_labels_and_stats_as_32_bit_labels():
    rng = np.random.default_rng(3)
    mask = (rng.random((300, 400)) < 0.3).astype(np.uint8) * 255
    mask[50:52, 10:390] = 255                          # a rule crossing many specks
    for conn in (4, 8):
        n, lab, st = components(mask, conn)
        n0, lab0, st0 = _cv(mask, conn)
        assert lab.dtype == np.uint16
        assert n == n0 and np.array_equal(st, st0) and np.array_equal(lab.astype(np.int32), lab0)


def test_more_labels_than_16_bits_hold_falls_back_to_32_bit():
    mask = np.zeros((1200, 1200), np.uint8)
    mask[::3, ::3] = 255                               # 160,000 single-pixel components
    n, lab, st = components(mask)
    n0, lab0, st0 = _cv(mask, 8)
    assert n == n0 == 160_001
    assert lab.dtype == np.int32 and np.array_equal(lab, lab0) and np.array_equal(st, st0)
