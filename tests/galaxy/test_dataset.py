import h5py
import numpy as np
import pytest

from acie.errors import DataFormatError, InputValidationError
from acie.galaxy.dataset import GalaxyH5Dataset, read_dataset, write_dataset
from acie.galaxy.properties import PROPERTY_NAMES
from acie.galaxy.simulator import GalaxySimulator


@pytest.fixture(scope="module")
def sim():
    return GalaxySimulator(image_size=32, bands=("r",), seed=0)


def test_round_trip_and_reproducibility(sim, tmp_path):
    path = write_dataset(tmp_path / "d.h5", sim, 25, seed=9, chunk_size=10, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.h5"]  # no temporary left behind
    b = read_dataset(path)
    assert len(b) == 25
    assert b.images.dtype == np.float32
    assert b.images.shape == (25, 1, 32, 32)
    # the stored galaxies are exactly what the simulator gives for the stored noise
    again = sim.from_noise(b.noise, b.nuisances)
    for k in PROPERTY_NAMES:
        np.testing.assert_array_equal(again.properties[k], b.properties[k])
    # float16 storage: relative rounding 2^-11 (plus the float16 subnormal floor)
    np.testing.assert_allclose(b.images, again.images, rtol=2**-11, atol=1e-7)
    # same seed and chunking: identical file contents
    path2 = write_dataset(tmp_path / "e.h5", sim, 25, seed=9, chunk_size=10, progress=False)
    np.testing.assert_array_equal(read_dataset(path2).images, b.images)
    part = read_dataset(path, start=5, stop=8, images=False)
    np.testing.assert_array_equal(part.properties["age"], b.properties["age"][5:8])
    with h5py.File(path) as f:
        assert f["properties/age"].attrs["unit"] == "Gyr"
        assert f.attrs["image_unit"] == "nanomaggy / pixel"


def test_map_style_dataset(sim, tmp_path):
    path = write_dataset(tmp_path / "d.h5", sim, 5, seed=1, progress=False)
    ds = GalaxyH5Dataset(path)
    img, props = ds[3]
    assert len(ds) == 5
    assert img.shape == (1, 32, 32)
    assert props.shape == (len(PROPERTY_NAMES),)
    ds.close()


def test_bad_files_and_arguments(sim, tmp_path):
    with pytest.raises(InputValidationError, match="does not exist"):
        read_dataset(tmp_path / "missing.h5")
    (tmp_path / "junk.h5").write_text("not hdf5")
    with pytest.raises(DataFormatError):
        read_dataset(tmp_path / "junk.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.attrs["format"] = "something else"
    with pytest.raises(DataFormatError, match="not an ACIE galaxy dataset"):
        read_dataset(tmp_path / "other.h5")
    with pytest.raises(InputValidationError):
        write_dataset(tmp_path / "no" / "d.h5", sim, 5, seed=0, progress=False)
    with pytest.raises(InputValidationError):
        write_dataset(tmp_path / "d.h5", sim, 0, seed=0, progress=False)
