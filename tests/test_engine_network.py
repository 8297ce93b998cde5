"""Networks round-trip without pickles: saved and loaded (npz, safetensors), pickled or
mismatched files refused."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from atlaskb.engine import Network, convnet, mlp
from atlaskb.errors import AtlasError
from engine_support import make_nets


# ---- serialization -----------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["relu", "conv"])
def test_save_load_round_trip(tmp_path, kind):
    net = make_nets()[kind]
    net.meta = {"seed": 3, "note": "x"}
    path = tmp_path / "m.npz"
    net.save(str(path))
    back = Network.load(str(path))
    assert back.layers == net.layers and back.family == net.family and back.meta == net.meta
    for a, b in zip(net.params, back.params):
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
            assert a[k].dtype == b[k].dtype


def test_safetensors_round_trip(tmp_path):
    pytest.importorskip("safetensors")
    net = convnet((1, 8, 8), 10, np.random.default_rng(1))
    net.save(str(tmp_path / "m.safetensors"))
    back = Network.load(str(tmp_path / "m.safetensors"))
    assert back.layers == net.layers
    np.testing.assert_array_equal(back.params[-1]["W"], net.params[-1]["W"])


def test_pickled_files_are_refused(tmp_path):
    net = mlp(4, (3,), 2, "relu", np.random.default_rng(0))
    arrays = {f"p{i}.{k}": v for i, p in enumerate(net.params) for k, v in p.items()}
    # An .npz whose spec is an object array (stored as a pickle by numpy).
    evil = tmp_path / "evil.npz"
    np.savez(evil, spec=np.array([{"layers": []}], dtype=object), **arrays)
    with pytest.raises(AtlasError, match="not a model file"):
        Network.load(str(evil))
    # A plain pickle renamed .npz.
    raw = tmp_path / "raw.npz"
    raw.write_bytes(pickle.dumps({"spec": "x"}))
    with pytest.raises(AtlasError, match="not a model file"):
        Network.load(str(raw))
    with pytest.raises(AtlasError, match="not found"):
        Network.load(str(tmp_path / "missing.npz"))


def test_weights_that_do_not_match_the_spec_are_refused(tmp_path):
    net = mlp(4, (3,), 2, "relu", np.random.default_rng(0))
    net.params[0]["W"] = net.params[0]["W"][:, :2]
    net.save(str(tmp_path / "bad.npz"))
    with pytest.raises(AtlasError, match="expected"):
        Network.load(str(tmp_path / "bad.npz"))
