"""Data sets for the defenses: digits and synthetic data in [0, 1], .npz files read
without pickles and refused with a clear message, and the defender's, attacker's and
test splits disjoint."""

from __future__ import annotations

import numpy as np
import pytest

from atlaskb.defenses import data


def test_digits_and_synthetic_are_in_unit_range():
    d = data.digits()
    assert d.x.shape == (1797, 64) and d.x.min() == 0 and d.x.max() == 1 and d.n_classes == 10
    s = data.synthetic(200, seed=1)
    assert s.x.shape == (200, 64) and 0 <= s.x.min() and s.x.max() <= 1
    assert (data.synthetic(200, seed=1).x == s.x).all()


def test_npz_loader_reads_plain_arrays_and_scales(tmp_path):
    p = tmp_path / "mine.npz"
    rng = np.random.default_rng(0)
    np.savez(p, x=rng.normal(size=(60, 5, 5)) * 10, y=np.repeat(["a", "b", "c"], 20).astype("S1").view(np.uint8))
    ds = data.load_npz(str(p))
    assert ds.x.shape == (60, 25) and ds.image_shape == (1, 5, 5) and ds.n_classes == 3
    assert ds.x.min() == 0 and ds.x.max() == 1


@pytest.mark.parametrize("arrays, message", [
    ({"features": np.zeros((4, 2)), "y": np.zeros(4, int)}, "expected arrays named 'x'"),
    ({"x": np.zeros((40, 4)), "y": np.zeros(30, int)}, "one label per row"),
    ({"x": np.array([{"a": 1}] * 40, dtype=object), "y": np.zeros(40, int)}, "unpickling"),
    ({"x": np.zeros((40, 4)), "y": np.zeros(40, int)}, "at least two classes"),
])
def test_bad_npz_gives_a_clear_message(tmp_path, arrays, message):
    p = tmp_path / "bad.npz"
    np.savez(p, **arrays)
    with pytest.raises(data.DataError, match=message):
        data.load_npz(str(p))


def test_not_an_npz_file(tmp_path):
    p = tmp_path / "x.npz"
    p.write_bytes(b"definitely not a zip")
    with pytest.raises(data.DataError, match="not a readable .npz"):
        data.load_npz(str(p))


def test_npz_without_samples_is_a_clear_error(tmp_path):
    p = tmp_path / "empty.npz"
    np.savez(p, x=np.zeros((0, 64), np.float32), y=np.zeros(0, np.int64))
    with pytest.raises(data.DataError, match="empty"):
        data.load_npz(str(p))


def test_data_folder_is_named_as_a_folder(tmp_path):
    with pytest.raises(data.DataError, match="is a folder"):
        data.get_dataset(str(tmp_path))


def test_attacker_data_is_disjoint_from_the_defenders():
    ds = data.digits()
    sp = data.split(ds, np.random.default_rng(5))
    sets = [set(sp.train), set(sp.attacker), set(sp.test)]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    assert len(sets[0] | sets[1] | sets[2]) == len(ds.y)
