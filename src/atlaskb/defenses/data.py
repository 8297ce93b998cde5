"""Data sets for the reference defenses, always as float32 features in [0, 1].

Digits (scikit-learn's bundled copy, no download) is the default because it is small
enough for a two-minute quick run yet has real image structure (8x8) for patches, shifts
and triggers. The synthetic generator exists for scale tests; the `.npz` loader lets users
measure on their own data without ever unpickling anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from atlaskb.errors import AtlasError


class DataError(AtlasError):
    """A data file the defenses cannot use; the message says why and what is expected.
    A usage error (exit 2): the user named something that cannot be used as --data."""

    exit_code = 2


@dataclass(frozen=True)
class Dataset:
    """Features `x` (N, D) in [0, 1], integer labels `y` (N,), and how to view a row as an
    image (channels, height, width) so that patches and convolutions make sense."""

    name: str
    x: np.ndarray
    y: np.ndarray
    n_classes: int
    image_shape: tuple[int, int, int]

    @property
    def n_features(self) -> int:
        return int(self.x.shape[1])


def _square_shape(d: int) -> tuple[int, int, int]:
    """An image view for D features: a square if D is one, else a single row."""
    side = int(round(d ** 0.5))
    return (1, side, side) if side * side == d else (1, 1, d)


def digits() -> Dataset:
    """scikit-learn's 8x8 handwritten digits (1797 images), pixel values scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    raw = load_digits()
    x = (raw.data / 16.0).astype(np.float32)
    return Dataset("digits", x, raw.target.astype(np.int64), 10, (1, 8, 8))


def synthetic(n_samples: int = 2000, side: int = 8, n_classes: int = 10, seed: int = 0,
              noise: float = 0.15) -> Dataset:
    """Class prototypes (smooth random images) plus noise, for scale tests of any size.

    Prototypes are blurred so neighbouring pixels correlate, as in real images, which keeps
    the conv member and the spatial attacks meaningful.
    """
    if n_samples < 2 * n_classes:
        raise DataError(f"synthetic data needs at least {2 * n_classes} samples, got {n_samples}")
    rng = np.random.default_rng(seed)
    protos = rng.random((n_classes, side, side))
    for _ in range(2):  # cheap blur: average with the four neighbours
        p = np.pad(protos, ((0, 0), (1, 1), (1, 1)), mode="edge")
        protos = (p[:, 1:-1, 1:-1] + p[:, :-2, 1:-1] + p[:, 2:, 1:-1] + p[:, 1:-1, :-2]
                  + p[:, 1:-1, 2:]) / 5.0
    protos = (protos - protos.min()) / (np.ptp(protos) + 1e-9)
    y = np.arange(n_samples) % n_classes
    rng.shuffle(y)
    x = protos[y] + rng.normal(0.0, noise, size=(n_samples, side, side))
    x = np.clip(x, 0.0, 1.0).reshape(n_samples, side * side).astype(np.float32)
    return Dataset(f"synthetic-{n_samples}", x, y.astype(np.int64), n_classes, (1, side, side))


def load_npz(path: str) -> Dataset:
    """A user's data set from an `.npz` file with arrays `x` (N, D) or (N, H, W) and `y`
    (N,) integer labels. Features are min-max scaled to [0, 1] if they are not already
    there, because every attack budget (epsilon) is defined on that scale."""
    if os.path.isdir(path):
        raise DataError(f"{path} is a folder; --data takes a .npz file with arrays x and y")
    if not os.path.isfile(path):
        raise DataError(f"data file not found: {path}")
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic[:2] != b"PK":  # .npz is a zip archive; anything else would be read as a pickle
        raise DataError(f"{path}: not a readable .npz file (not a zip archive); "
                        "write it with numpy.savez(path, x=..., y=...)")
    try:
        with np.load(path, allow_pickle=False) as z:
            files = set(z.files)
            xk = "x" if "x" in files else ("X" if "X" in files else None)
            if xk is None or "y" not in files:
                raise DataError(f"{path}: expected arrays named 'x' (or 'X') and 'y'; "
                                f"found {sorted(files) or 'none'}")
            x, y = np.asarray(z[xk]), np.asarray(z["y"])
    except DataError:
        raise
    except ValueError as e:  # object arrays need pickles, which we refuse
        raise DataError(f"{path}: cannot read without unpickling ({e}); save plain numeric "
                        "arrays with numpy.savez") from None
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: not a readable .npz file ({e})") from None
    if x.dtype.kind not in "fiub" or y.dtype.kind not in "iub":
        raise DataError(f"{path}: 'x' must be numeric and 'y' integer "
                        f"(got {x.dtype} and {y.dtype})")
    if x.ndim == 3:
        image = (1, x.shape[1], x.shape[2])
        x = x.reshape(len(x), -1)
    elif x.ndim == 2:
        image = _square_shape(x.shape[1])
    else:
        raise DataError(f"{path}: 'x' must have shape (N, D) or (N, H, W), got {x.shape}")
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(f"{path}: 'y' must be a vector with one label per row of 'x' "
                        f"(x has {len(x)} rows, y has shape {y.shape})")
    if x.size == 0:
        raise DataError(f"{path}: 'x' is empty (shape {x.shape}); it needs samples and features")
    x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise DataError(f"{path}: 'x' contains NaN or infinite values")
    lo, hi = float(x.min()), float(x.max())
    if lo < 0.0 or hi > 1.0:
        x = (x - lo) / (hi - lo if hi > lo else 1.0)
    classes, y = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise DataError(f"{path}: need at least two classes, found {len(classes)}")
    if len(x) < 10 * len(classes):
        raise DataError(f"{path}: too few samples ({len(x)}) for {len(classes)} classes; "
                        "the experiments split the data five ways")
    name = os.path.splitext(os.path.basename(path))[0]
    return Dataset(name, x.astype(np.float32), y.astype(np.int64), int(len(classes)), image)


def get_dataset(spec: str) -> Dataset:
    """`digits`, `synthetic[:N]`, or a path to an `.npz` file."""
    if spec == "digits":
        return digits()
    if spec.startswith("synthetic"):
        _, _, n = spec.partition(":")
        try:
            return synthetic(int(n) if n else 2000)
        except ValueError:
            raise DataError(f"bad synthetic size in {spec!r}; use synthetic:N") from None
    if spec.endswith(".npz") or os.path.exists(spec):
        return load_npz(spec)
    raise DataError(f"unknown data set {spec!r}; use digits, synthetic[:N] or a .npz path")


@dataclass(frozen=True)
class Split:
    """Disjoint index sets: the defender trains on `train`, everyone is scored on `test`,
    and the attacker owns `attacker` (for surrogates, shadow models and poison), which the
    defender never sees; that separation is what makes transfer attacks honest."""

    train: np.ndarray
    attacker: np.ndarray
    test: np.ndarray


def split(ds: Dataset, rng: np.random.Generator, test_frac: float = 0.25,
          attacker_frac: float = 0.25) -> Split:
    """A stratified-by-shuffle three-way split drawn from `rng`."""
    n = len(ds.y)
    perm = rng.permutation(n)
    n_test, n_att = int(round(n * test_frac)), int(round(n * attacker_frac))
    return Split(train=np.sort(perm[n_test + n_att:]), attacker=np.sort(perm[n_test:n_test + n_att]),
                 test=np.sort(perm[:n_test]))
