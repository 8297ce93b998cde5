"""Input transformations on the image view of features in [0, 1], for preprocessing
defenses (`systems.InputTransform`, AML.M0010) and for feature squeezing (AML.M0015).

Each is `make(...)(x, rng) -> x'` on flat (N, C*H*W) rows, so one function serves a
defended pipeline, its training (as a batch hook) and a detector. Deterministic ones ignore
`rng`; the randomised one draws from it, so a seeded caller gets the same draws. Where the
transform has a useful derivative (the median and the shift are piecewise linear), it is
given as `fn.backward(x, g, rng) -> g_x` (the vector-Jacobian product, `rng` replaying the
forward draws); quantisation has none (zero almost everywhere), so attacks use BPDA.
"""

from __future__ import annotations

import numpy as np


def _images(x, image):
    c, h, w = image
    return np.asarray(x).reshape(len(x), c, h, w)


def bit_depth(bits: int):
    """Quantise every feature to 2**bits levels (Xu et al., 2018: feature squeezing)."""
    if not 1 <= int(bits) <= 16:
        raise ValueError(f"bits must be between 1 and 16, got {bits}")
    levels = 2 ** int(bits) - 1

    def squeeze(x, rng=None):
        return (np.round(np.asarray(x) * levels) / levels).astype(np.asarray(x).dtype)

    return squeeze


def median_filter(image, size: int = 2):
    """Median over each size x size window (anchored at the pixel, edges repeated), per
    channel: the local smoothing of feature squeezing (2x2 for small digit images)."""
    if size < 1:
        raise ValueError(f"the median filter needs a window of at least 1, got {size}")
    c, h, w = image
    lo, hi = (size - 1) // 2, size // 2

    k = size * size
    # which source pixel (index into the flat image) each window element reads
    src = np.pad(np.arange(h * w).reshape(h, w), ((lo, hi), (lo, hi)), mode="edge")
    src = np.stack([src[i:i + h, j:j + w].reshape(-1) for i in range(size) for j in range(size)], 0)

    def _windows(x):
        imgs = _images(x, image).reshape(len(x), c, h * w)
        return imgs[:, :, src]  # (N, C, k, H*W)

    def smooth(x, rng=None):
        return np.median(_windows(x), axis=2).reshape(len(x), c * h * w).astype(np.asarray(x).dtype)

    def backward(x, g, rng=None):
        """The median's own derivative (it is piecewise linear): each output's gradient
        goes to the window element(s) it took, half each to the two middle ones of an even
        window, and is summed back onto the source pixels."""
        order = np.argsort(_windows(x), axis=2, kind="stable")
        mids = [k // 2] if k % 2 else [k // 2 - 1, k // 2]
        gi = np.asarray(g, np.float64).reshape(len(x), c, h * w) / len(mids)
        base = (np.arange(len(x) * c) * (h * w))[:, None]  # each (input, channel) image's offset
        p_i = np.arange(h * w)[None, None, :]
        out = np.zeros(len(x) * c * h * w)
        for m in mids:
            taken = src[order[:, :, m, :], p_i].reshape(len(x) * c, h * w)  # source pixel chosen
            out += np.bincount((taken + base).ravel(), weights=gi.ravel(), minlength=out.size)
        return out.reshape(len(x), c * h * w)

    smooth.backward = backward
    return smooth


def random_shift(image, pixels: int = 1):
    """Pad with `pixels` zeros on every side and crop back at a random offset, per input:
    a random translation of up to `pixels` in each direction (the small-image form of Xie
    et al.'s (2018) random resizing and padding)."""
    c, h, w = image

    def shift(x, rng):
        imgs = _images(x, image)
        p = np.pad(imgs, ((0, 0), (0, 0), (pixels, pixels), (pixels, pixels)))
        off = rng.integers(0, 2 * pixels + 1, (len(x), 2))
        out = np.empty_like(imgs)
        for i, (r, q) in enumerate(off):
            out[i] = p[i, :, r:r + h, q:q + w]
        return out.reshape(len(x), c * h * w)

    def backward(x, g, rng):
        """A shift is linear: its derivative moves the gradient back by the same offsets
        (`rng` must replay the forward pass's draws)."""
        off = rng.integers(0, 2 * pixels + 1, (len(x), 2))
        gp = np.zeros((len(x), c, h + 2 * pixels, w + 2 * pixels))
        gi = np.asarray(g, np.float64).reshape(len(x), c, h, w)
        for i, (r, q) in enumerate(off):
            gp[i, :, r:r + h, q:q + w] = gi[i]
        return gp[:, :, pixels:pixels + h, pixels:pixels + w].reshape(len(x), c * h * w)

    shift.backward = backward
    return shift


def as_batch_hook(transform):
    """The transform as an `engine.train` batch hook: the classifier behind a
    preprocessing defense is trained on what the preprocessing gives it."""
    def hook(xb, yb, rng):
        return np.clip(transform(xb, rng), 0.0, 1.0).astype(xb.dtype), yb

    return hook
