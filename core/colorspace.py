"""The sRGB curve, both ways: colours as shown (sRGB-encoded bytes, as
images and screens hold them) and as light adds up (linear, as glTF's
factors and vertex colours and Blender's colours hold them)."""

from __future__ import annotations

import numpy as np


def srgb_bytes(linear: np.ndarray) -> np.ndarray:
    """Linear light in [0, 1] as sRGB-encoded uint8 (the sRGB curve)."""
    x = np.clip(np.nan_to_num(linear), 0.0, 1.0)
    return np.round(255.0 * np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)).astype(np.uint8)


def linear_from_srgb(encoded: np.ndarray) -> np.ndarray:
    """sRGB-encoded uint8 as linear light in [0, 1] (the curve undone)."""
    x = np.asarray(encoded, np.float64) / 255.0
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
