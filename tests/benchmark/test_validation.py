import numpy as np
import pytest

from benchmarks.harness.protocol import from_array, windows
from benchmarks.harness.validation import validation_split


def test_validation_windows_end_before_test_rows():
    raw = np.arange(200.0)[:, None] * np.ones((1, 2))
    data = from_array(raw)
    val = validation_split(data)
    assert val.n_test == data.n_test and val.n_rows == data.n_rows - data.n_test
    x, y = windows(val, 6)
    scaled_first_test = data.values[data.n_rows - data.n_test, 0]
    assert y.max() < scaled_first_test  # every target lies before the test part
    np.testing.assert_allclose(val.mean, data.mean)


def test_validation_needs_rows():
    with pytest.raises(ValueError, match="too few rows"):
        validation_split(from_array(np.arange(50.0)[:, None]))
