"""Catalogue reading and writing: round trips with units, typed errors, atomic writes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from acie.analysis.catalogue import load_catalogue, save_catalogue
from acie.errors import DataFormatError, InputValidationError, UnknownNameError


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    f = pd.DataFrame(
        {
            "survey_id": ["A", "B", "A", "C"],
            "mass": 10 ** rng.uniform(9, 11, 4),
            "luminosity": 10 ** rng.uniform(9, 11, 4),
            "redshift": [0.1, 0.2, 0.15, 0.09],
        }
    )
    f.attrs["units"] = {"mass": "solMass", "luminosity": "solLum"}
    return f


@pytest.mark.parametrize("suffix", [".csv", ".fits", ".parquet"])
def test_round_trip(tmp_path, frame, suffix):
    path = save_catalogue(frame, tmp_path / f"cat{suffix}")
    back = load_catalogue(path)
    assert list(back.columns) == list(frame.columns)
    np.testing.assert_allclose(back["mass"], frame["mass"], rtol=1e-12)
    assert back["survey_id"].astype(str).str.strip().tolist() == ["A", "B", "A", "C"]
    if suffix != ".csv":  # CSV carries no units
        assert back.attrs["units"] == {"mass": "solMass", "luminosity": "solLum"}
    assert [p.name for p in tmp_path.iterdir()] == [f"cat{suffix}"]  # no temp files left


def test_fits_written_by_astropy_directly(tmp_path):
    from astropy import units as u
    from astropy.table import Table

    t = Table({"flux": np.array([1.0, 2.0]) * u.Jy, "z": [0.1, 0.2]})
    t.write(tmp_path / "t.fits")
    back = load_catalogue(tmp_path / "t.fits", columns=["flux"])
    assert list(back.columns) == ["flux"]
    assert back.attrs["units"] == {"flux": "Jy"}


def test_non_fits_units_survive_a_round_trip(tmp_path):
    f = pd.DataFrame({"log_stellar_mass": [10.0, 11.0], "flux": [1.0, 2.0]})
    f.attrs["units"] = {"log_stellar_mass": "dex(solMass)", "flux": "nmgy"}
    back = load_catalogue(save_catalogue(f, tmp_path / "c.fits"))
    assert back.attrs["units"] == f.attrs["units"]


def test_errors(tmp_path, frame):
    with pytest.raises(InputValidationError, match="existing catalogue file"):
        load_catalogue(tmp_path / "missing.csv")
    with pytest.raises(InputValidationError, match="extension"):
        load_catalogue(tmp_path / "cat.txt")
    with pytest.raises(InputValidationError, match="format"):
        load_catalogue(tmp_path / "cat.csv", format="hdf5")
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    with pytest.raises(DataFormatError, match="cannot read"):
        load_catalogue(bad)
    bad_fits = tmp_path / "bad.fits"
    bad_fits.write_bytes(b"\x00" * 100)
    with pytest.raises(DataFormatError, match="cannot read"):
        load_catalogue(bad_fits)
    path = save_catalogue(frame, tmp_path / "ok.parquet")
    with pytest.raises(UnknownNameError, match=r"lacks column.*'stellar_mass'.*columns are"):
        load_catalogue(path, columns=["mass", "stellar_mass"])
    with pytest.raises(InputValidationError, match="DataFrame"):
        save_catalogue({"a": [1]}, tmp_path / "x.csv")


def test_multidimensional_fits_column_is_rejected(tmp_path):
    from astropy.table import Table

    Table({"img": np.zeros((3, 2, 2)), "z": [1.0, 2.0, 3.0]}).write(tmp_path / "m.fits")
    with pytest.raises(DataFormatError, match="multidimensional"):
        load_catalogue(tmp_path / "m.fits")
