"""Grey statistics of an 8-bit crop from one 256-bin histogram: the values np.median,
np.partition and the median absolute deviation give (a median is the mean of the middle one
or two values, every deviation a whole or half grey level), ~3–4× cheaper (session 31c)."""
from __future__ import annotations

import numpy as np


def median_kth(flat: np.ndarray, k: int) -> tuple[float, float]:
    """(median, k-th smallest value) of a uint8 array."""
    upto = np.cumsum(np.bincount(flat, minlength=256))
    n = flat.size
    mid_lo, mid_hi, kth = np.searchsorted(upto, [(n - 1) // 2 + 1, n // 2 + 1, k])   # values at ranks
    return (float(mid_lo) + float(mid_hi)) / 2, float(kth)


def median_mad(crop: np.ndarray) -> tuple[float, float]:
    """(median, median absolute deviation from it) of a uint8 array."""
    hist, mid = np.bincount(crop.ravel(), minlength=256), [(crop.size - 1) // 2 + 1, crop.size // 2 + 1]
    median = float(np.searchsorted(np.cumsum(hist), mid).sum()) / 2
    dev = np.abs(np.arange(256) - median)
    order = np.argsort(dev, kind="stable")
    at = np.searchsorted(np.cumsum(hist[order]), mid)
    return median, (float(dev[order][at[0]]) + float(dev[order][at[1]])) / 2
