"""Tests of the external (BSE/GW) form-factor format: validator, loader, example files."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from acie.darkmatter.excitons import read_excitons, validate_excitons, write_example_excitons
from acie.darkmatter.formfactor.shipped import shipped_table
from acie.errors import DataFormatError


@pytest.fixture(scope="module")
def table():
    # a DFT table as users have it: the shipped Si (3×3×3 Γ-centred k-mesh), no PySCF run
    return shipped_table("Si")


@pytest.fixture
def example(table, tmp_path):
    return write_example_excitons(table, tmp_path / "Si_example.h5")


def test_example_file_is_valid_and_labelled_not_bse(example, table):
    assert validate_excitons(example) == []
    data = read_excitons(example)
    assert data.is_bse is False
    assert "NOT BSE" in data.method
    np.testing.assert_array_equal(data.table.f2, table.f2)
    np.testing.assert_array_equal(data.baseline.f2, table.f2)
    assert data.excitation_energies.to_value("eV")[0] == pytest.approx(1.12)
    # k-mesh 3×3×3: 27 k-points; q-points are their differences, (2·3 − 1)³ = 125 distinct
    assert data.kpoints.shape == (27, 3)
    assert data.qpoints.shape == (125, 3)


def test_loader_plugs_into_the_rate_engine(example, table):
    import astropy.units as u

    from acie.darkmatter.electron import total_rate

    ext = read_excitons(example).table
    r_ext = total_rate(ext, 100 * u.MeV, 1e-37 * u.cm**2)
    r_dft = total_rate(table, 100 * u.MeV, 1e-37 * u.cm**2)
    assert r_ext.value > 0
    assert r_ext.to_value(r_dft.unit) == pytest.approx(r_dft.value, rel=1e-12)


def _mutate(path, fn):
    with h5py.File(path, "r+") as fh:
        fn(fh)
    return path


CASES = [
    (lambda fh: fh.attrs.__delitem__("method"), "missing root attribute 'method'"),
    (
        lambda fh: fh.attrs.__setitem__("format", "qcdark"),
        "root attribute 'format' must be 'acie.excitons'",
    ),
    (lambda fh: fh.attrs.__setitem__("format_version", 7), "format_version must be 1"),
    (lambda fh: fh.attrs.__setitem__("normalisation", "qedark"), "normalisation must be 'qcdark'"),
    (
        lambda fh: fh.attrs.__setitem__("cell_volume_bohr3", -1.0),
        "'cell_volume_bohr3' must be finite and > 0",
    ),
    (lambda fh: fh.attrs.__setitem__("is_bse", "yes"), "'is_bse' must be a boolean"),
    (lambda fh: fh.attrs.__setitem__("format_version", 1.5), "format_version must be 1; got 1.5"),
    (
        lambda fh: fh.attrs.__setitem__("band_gap_eV", "1.1"),
        "root attribute 'band_gap_eV' must be a number; got '1.1'",
    ),
    (lambda fh: fh.attrs.__setitem__("material", 14), "root attribute 'material' must be a string"),
    (
        lambda fh: fh.attrs.__setitem__("metadata_json", "{not json"),
        "root attribute 'metadata_json' must be valid JSON",
    ),
    (
        lambda fh: fh.attrs.__setitem__("metadata_json", "[1, 2]"),
        "root attribute 'metadata_json' must be a JSON object; got 'list'",
    ),
    (lambda fh: fh.__delitem__("qpoints"), "missing required dataset '/qpoints'"),
    (
        lambda fh: fh["q"].attrs.__setitem__("units", "1/bohr"),
        "units attribute of '/q' must be 'keV'",
    ),
    (lambda fh: fh["f2"].__setitem__((0, 0), np.nan), "'/f2' must be finite values"),
    (lambda fh: _replace(fh, "f2_dft", -np.ones(fh["f2"].shape)), "'/f2_dft' must be values >= 0"),
    (
        lambda fh: _replace(fh, "energy", fh["energy"][...][::-1]),
        "'/energy' must be a strictly increasing grid",
    ),
    (lambda fh: _replace(fh, "q", -fh["q"][...]), "'/q' must be"),
    (lambda fh: _replace(fh, "f2", fh["f2"][:, :-1]), "'/f2' must be shape (n_q, n_E)"),
    (
        lambda fh: _replace(fh, "kpoints", np.zeros((2, 2)), "1/bohr"),
        "'/kpoints' must be shape (n, 3)",
    ),
    (
        lambda fh: _replace(fh, "excitation_energies", np.array([-1.0]), "eV"),
        "'/excitation_energies' must be values > 0",
    ),
    (
        lambda fh: _replace(fh, "excitation_energies", np.array([5.0]), "eV"),
        "below the lowest excitation energy 5 eV",
    ),
]


def _replace(fh, name, data, units=None):
    units = units or fh[name].attrs["units"]
    del fh[name]
    ds = fh.create_dataset(name, data=data)
    ds.attrs["units"] = units


@pytest.mark.parametrize(("mutation", "message"), CASES)
def test_every_validator_error_is_precise(example, mutation, message):
    _mutate(example, mutation)
    errs = validate_excitons(example)
    assert any(message in e for e in errs), errs
    with pytest.raises(DataFormatError, match=r"acie\.excitons|must|missing|below"):
        read_excitons(example)


def test_not_hdf5_and_missing_file(tmp_path):
    bad = tmp_path / "x.h5"
    bad.write_text("not hdf5")
    assert "must be an HDF5 file" in validate_excitons(bad)[0]
    with pytest.raises(FileNotFoundError):
        validate_excitons(tmp_path / "nope.h5")
