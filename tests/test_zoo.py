import json
import shutil

import numpy as np
import pytest

from seqfusion.errors import ZooError
from seqfusion.training.models import build_model
from seqfusion.zoo import Member, Zoo


def test_round_trip(tiny_zoo, tmp_path):
    zoo = Zoo.load(tiny_zoo)
    assert zoo.names == ["sine_patchtst", "trend_dlinear", "naive"]
    out = zoo.save(tmp_path / "copy")
    again = Zoo.load(out)
    x = np.random.default_rng(0).normal(size=(3, 36)).astype(np.float32)
    for a, b in zip(zoo.members, again.members):
        np.testing.assert_array_equal(a.model(x), b.model(x))
        assert a.state.keys() == b.state.keys()
        np.testing.assert_allclose(a.representation, b.representation, atol=1e-6)
        assert a.source == b.source and a.frequency == b.frequency
    manifest = json.loads((out / "zoo.json").read_text())
    assert manifest["format_version"] == 1
    entry = manifest["ptms"][0]
    for key in ("name", "architecture", "config", "input_length", "horizon", "source",
                "frequency", "representation", "training", "sha256"):
        assert key in entry
    assert manifest["ptms"][2]["file"] is None  # naive has no weights
    assert not list(out.rglob("*.pt")) and not list(out.rglob("*.pkl"))


@pytest.fixture
def copy(tiny_zoo, tmp_path):
    dst = tmp_path / "zoo"
    shutil.copytree(tiny_zoo, dst)
    return dst


def test_flipped_byte_names_file(copy):
    f = copy / "ptms" / "sine_patchtst.safetensors"
    data = bytearray(f.read_bytes())
    data[-5] ^= 0xFF
    f.write_bytes(bytes(data))
    with pytest.raises(ZooError, match="sine_patchtst.safetensors: checksum mismatch"):
        Zoo.load(copy)


def test_missing_file(copy):
    (copy / "extractor.safetensors").unlink()
    with pytest.raises(ZooError, match="extractor.safetensors: weight file missing"):
        Zoo.load(copy)


def test_wrong_version(copy):
    m = json.loads((copy / "zoo.json").read_text())
    m["format_version"] = 99
    (copy / "zoo.json").write_text(json.dumps(m))
    with pytest.raises(ZooError, match="format version 99 is not supported"):
        Zoo.load(copy)


def test_bad_json_and_missing_manifest(copy, tmp_path):
    (copy / "zoo.json").write_text("{not json")
    with pytest.raises(ZooError, match="not valid JSON"):
        Zoo.load(copy)
    with pytest.raises(ZooError, match="manifest not found"):
        Zoo.load(tmp_path / "nowhere")


def test_shape_mismatch(copy):
    m = json.loads((copy / "zoo.json").read_text())
    m["ptms"][1]["config"]["horizon"] = 6  # weights are for horizon 12
    (copy / "zoo.json").write_text(json.dumps(m))
    with pytest.raises(ZooError, match="trend_dlinear.safetensors: tensor .* has shape"):
        Zoo.load(copy)


def test_malformed_entry(copy):
    m = json.loads((copy / "zoo.json").read_text())
    del m["ptms"][0]["architecture"]
    (copy / "zoo.json").write_text(json.dumps(m))
    with pytest.raises(ZooError, match="malformed manifest"):
        Zoo.load(copy)


def test_add_list_remove(tiny_zoo, tmp_path):
    zoo = Zoo.load(tiny_zoo)
    dim = zoo.representations().shape[1]
    mod = build_model("seasonal_naive", period=7)
    zoo.add(Member("snaive7", "seasonal_naive", {"input_length": 36, "horizon": 12, "period": 7},
                   mod, np.ones(dim), source="classical"))
    with pytest.raises(ZooError, match="already in the zoo"):
        zoo.add(Member("snaive7", "naive", {}, build_model("naive"), np.ones(dim)))
    with pytest.raises(ZooError, match="representation must be"):
        zoo.add(Member("bad", "naive", {}, build_model("naive"), np.ones(dim + 1)))
    with pytest.raises(ZooError, match="invalid PTM name"):
        zoo.add(Member("a/b", "naive", {}, build_model("naive"), np.ones(dim)))
    again = Zoo.load(zoo.save(tmp_path / "ext"))
    assert again.names[-1] == "snaive7"
    assert list(again.table()["name"]) == again.names
    again.remove("snaive7")
    assert "snaive7" not in again.names
    with pytest.raises(KeyError):
        again["snaive7"]


@pytest.mark.parametrize("bad", ["../../x.safetensors", "/etc/passwd", "ptms/../../outside.safetensors"])
def test_member_files_must_lie_inside_the_zoo(copy, bad):
    manifest = json.loads((copy / "zoo.json").read_text())
    entry = next(e for e in manifest["ptms"] if e.get("file"))
    outside = copy.parent / "outside.safetensors"
    outside.write_bytes((copy / entry["file"]).read_bytes())
    entry["file"] = bad
    (copy / "zoo.json").write_text(json.dumps(manifest))
    with pytest.raises(ZooError, match="outside the zoo folder"):
        Zoo.load(copy)


def _poison(zoo_dir, rel, value):
    """Put ``value`` into the first element of the first tensor of weight file ``rel`` and
    recompute its checksum in zoo.json (as Zoo.load verifies it): the file passes the
    checksum check. Returns the tensor's name."""
    from safetensors.numpy import load_file, save_file

    from seqfusion.engine import sha256_file

    f = zoo_dir / rel
    state = load_file(str(f))
    name = sorted(state)[0]
    arr = state[name].copy()
    arr.reshape(-1)[0] = value
    state[name] = arr
    save_file(state, str(f), metadata={"format": "seqfusion-zoo"})
    manifest = json.loads((zoo_dir / "zoo.json").read_text())
    entries = [manifest["extractor"], *manifest["ptms"]] + ([manifest["router"]] if "router" in manifest else [])
    (entry,) = [e for e in entries if e.get("file") == rel]
    entry["sha256"] = sha256_file(f)
    (zoo_dir / "zoo.json").write_text(json.dumps(manifest))
    return name


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("which", ["member", "extractor", "router"])
def test_non_finite_weights_are_a_zoo_error_naming_file_and_tensor(tmp_path, which, value):
    """A weight file holding NaN or inf, with its checksum recomputed so that it passes the
    checksum check, does not load (it used to load and forecast persistence quietly)."""
    from seqfusion import SeqFusion
    from seqfusion.zoo import DEFAULT_ZOO

    dst = tmp_path / "zoo"
    shutil.copytree(DEFAULT_ZOO, dst)
    manifest = json.loads((dst / "zoo.json").read_text())
    rel = {"member": next(e["file"] for e in manifest["ptms"] if e.get("file")),
           "extractor": manifest["extractor"]["file"], "router": manifest["router"]["file"]}[which]
    Zoo.load(dst)  # the copy loads before the change
    tensor = _poison(dst, rel, value)
    pattern = rf"{rel.split('/')[-1]}: tensor '{tensor}' holds non-finite weights"
    with pytest.raises(ZooError, match=pattern):
        Zoo.load(dst)
    with pytest.raises(ZooError, match=pattern):
        SeqFusion.from_pretrained(dst)


def test_non_finite_weights_are_refused_when_added_or_saved(tiny_zoo, tmp_path):
    zoo = Zoo.load(tiny_zoo)
    dim = zoo.representations().shape[1]
    state = {k: v.copy() for k, v in zoo["trend_dlinear"].state.items()}
    key = sorted(state)[0]
    state[key].reshape(-1)[0] = np.nan
    bad = Member("nan_dlinear", "dlinear", dict(zoo["trend_dlinear"].config), state, np.ones(dim))
    with pytest.raises(ZooError, match=rf"PTM 'nan_dlinear': tensor '{key}' holds non-finite weights \(1 NaN"):
        zoo.add(bad)
    assert "nan_dlinear" not in zoo.names
    big = {k: v.copy() for k, v in zoo["trend_dlinear"].state.items()}
    big[key].reshape(-1)[0] = 1e6  # finite in float32, beyond float16
    zoo.add(Member("big_dlinear", "dlinear", dict(zoo["trend_dlinear"].config), big, np.ones(dim)))
    with pytest.raises(ZooError, match=rf"big_dlinear.safetensors: tensor '{key}' exceeds float16's range"):
        zoo.save(tmp_path / "half")
    again = Zoo.load(zoo.save(tmp_path / "full", half=False))
    assert again["big_dlinear"].state[key].reshape(-1)[0] == 1e6
