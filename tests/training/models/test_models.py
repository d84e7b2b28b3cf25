import pytest
import torch

from seqfusion.training.models import build_model, list_architectures


def test_registry_lists_architectures():
    names = list_architectures()
    for name in ("patchtst", "dlinear", "naive", "seasonal_naive", "window_mean"):
        assert name in names


@pytest.mark.parametrize("arch", ["patchtst", "dlinear", "naive", "seasonal_naive", "window_mean"])
def test_shapes(arch):
    model = build_model(arch, input_length=36, horizon=12).eval()
    assert model(torch.randn(5, 36)).shape == (5, 12)


def test_patchtst_defaults_follow_paper():
    m = build_model("patchtst")
    assert (m.input_length, m.horizon, m.patch_len, m.n_patches) == (36, 12, 16, 4)
    assert m.embed.out_features == 64
    assert len(m.encoder.layers) == 1


def test_patchtst_configurable():
    m = build_model("patchtst", input_length=48, horizon=6, patch_len=8, stride=4, d_model=32,
                    n_heads=4, n_layers=2).eval()
    assert m(torch.randn(3, 48)).shape == (3, 6)
    assert len(m.encoder.layers) == 2


def test_unknown_architecture():
    with pytest.raises(ValueError, match="unknown architecture 'nope'"):
        build_model("nope")


def test_models_shift_equivariant():
    torch.manual_seed(0)
    x = torch.randn(4, 36)
    for arch in ("patchtst", "dlinear"):
        m = build_model(arch).eval()
        with torch.no_grad():
            assert torch.allclose(m(x + 5.0), m(x) + 5.0, atol=1e-4)


def test_classical_members():
    x = torch.arange(36, dtype=torch.float32).reshape(1, 36)
    assert torch.equal(build_model("naive")(x), torch.full((1, 12), 35.0))
    sn = build_model("seasonal_naive", period=7)(x)
    assert sn[0, :7].tolist() == [29, 30, 31, 32, 33, 34, 35]
    assert sn[0, 7:].tolist() == [29, 30, 31, 32, 33]
    assert torch.allclose(build_model("window_mean")(x), torch.full((1, 12), 17.5))
    with pytest.raises(ValueError):
        build_model("seasonal_naive", period=0)
