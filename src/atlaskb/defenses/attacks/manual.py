"""Manual modifications with no model access (AML.T0043.003): what a person can do to an
input by hand. Occlusion (a patch of ink erased), a stray stroke, a one-pixel shift and
sensor-like noise. Each is drawn from a seeded generator so every run is reproducible.
"""

from __future__ import annotations

import numpy as np


def _images(x, image):
    c, h, w = image
    return x.reshape(len(x), c, h, w).copy()


def occlusion(x, image, rng, size: int = 3):
    """Erase a size x size patch at a random position inside the image."""
    imgs = _images(x, image)
    _, _, h, w = imgs.shape
    sh, sw = min(size, h), min(size, w)
    for i, (r, c) in enumerate(zip(rng.integers(0, h - sh + 1, len(x)), rng.integers(0, w - sw + 1, len(x)))):
        imgs[i, :, r:r + sh, c:c + sw] = 0.0
    return imgs.reshape(len(x), -1)


def stroke(x, image, rng):
    """Draw a full-intensity straight line between two random border-to-border points."""
    imgs = _images(x, image)
    _, _, h, w = imgs.shape
    for i in range(len(x)):
        (r0, r1), (c0, c1) = rng.uniform(0, h - 1, 2), rng.uniform(0, w - 1, 2)
        t = np.linspace(0.0, 1.0, 2 * max(h, w))
        rr = np.rint(r0 + t * (r1 - r0)).astype(int)
        cc = np.rint(c0 + t * (c1 - c0)).astype(int)
        imgs[i, :, rr, cc] = 1.0
    return imgs.reshape(len(x), -1)


def shift(x, image, rng, pixels: int = 1):
    """Translate by `pixels` in a random direction (up/down/left/right), filling with 0."""
    imgs = _images(x, image)
    out = np.zeros_like(imgs)
    for i, k in enumerate(rng.integers(0, 4, len(x))):
        if k == 0:
            out[i, :, :-pixels, :] = imgs[i, :, pixels:, :]
        elif k == 1:
            out[i, :, pixels:, :] = imgs[i, :, :-pixels, :]
        elif k == 2:
            out[i, :, :, :-pixels] = imgs[i, :, :, pixels:]
        else:
            out[i, :, :, pixels:] = imgs[i, :, :, :-pixels]
    return out.reshape(len(x), -1)


def noise(x, image, rng, sigma: float = 0.2):
    """Add Gaussian noise (sigma on the [0, 1] scale), clipped back to [0, 1]."""
    return np.clip(x + rng.normal(0.0, sigma, x.shape), 0.0, 1.0).astype(x.dtype)


MODIFICATIONS = {"occlusion": occlusion, "stroke": stroke, "shift": shift, "noise": noise}
