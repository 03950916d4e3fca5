"""Form-factor tables, the QCDark reader and the ACIE v1 format."""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import h5py
import numpy as np
import pytest
from reference_data import QCDARK_GE
from reference_data import needs_qcdark_ge as needs_ge

from acie.darkmatter.formfactor.io import read_acie, read_formfactor, read_qcdark, write_acie
from acie.darkmatter.formfactor.table import FormFactorTable
from acie.darkmatter.units import BOHR
from acie.errors import DataFormatError


def small_table(**over) -> FormFactorTable:
    kw = dict(
        material="Toy",
        q=np.linspace(0.1, 5.0, 6) * u.keV,
        energy=np.linspace(0.5, 10, 4) * u.eV,
        f2=np.arange(24.0).reshape(6, 4),
        band_gap=1.1 * u.eV,
        cell_volume=270.0 * BOHR**3,
        cell_mass=5.2e10 * u.eV,
        scissor_applied=True,
        metadata={"settings": {"xc": "pbe"}, "timings": {"total_s": 1.5}},
    )
    kw.update(over)
    return FormFactorTable(**kw)


@needs_ge
def test_qcdark_ge_reader_values():
    t = read_qcdark(QCDARK_GE)
    assert t.material == "Ge"
    assert t.shape == (1000, 500)
    # dq = 0.02 alpha m_e = 74.58 eV; bin centres at (i + 1/2) dq (QCDark dark_matter_rates.py)
    assert t.q_eV[0] == pytest.approx(0.01 * 3728.94, rel=1e-5)
    assert t.energy_eV[0] == pytest.approx(0.05)
    assert t.energy_eV[-1] == pytest.approx(49.95)
    # Ge diamond primitive cell: a^3/4 with a = 5.6575 A (2 x 2.82875 A in run_settings/a)
    assert t.cell_volume.to_value(u.AA**3) == pytest.approx(5.6575**3 / 4, rel=1e-4)
    # two Ge atoms: 2 x 72.63 u x 931.494 MeV/u (QCDark uses 72.63 u, rel 1e-3)
    assert t.cell_mass_eV == pytest.approx(2 * 72.63 * 931.494e6, rel=1e-3)
    assert t.band_gap_eV == pytest.approx(0.67)
    assert t.scissor_applied


@needs_ge
def test_round_trip_qcdark_to_acie(tmp_path):
    t = read_qcdark(QCDARK_GE)
    out = write_acie(t, tmp_path / "ge.h5")
    back = read_formfactor(out)
    np.testing.assert_array_equal(back.f2, t.f2)
    np.testing.assert_allclose(back.q_keV, t.q_keV, rtol=0)
    assert back.metadata["settings"]["xc"] == "pbe0"
    with h5py.File(out) as fh:
        assert fh.attrs["format"] == "acie.formfactor"
        assert fh["f2"].compression == "gzip"


def test_round_trip_small(tmp_path):
    t = small_table()
    back = read_acie(write_acie(t, tmp_path / "t.h5"))
    np.testing.assert_array_equal(back.f2, t.f2)
    assert back.metadata["settings"] == {"xc": "pbe"}
    assert back.metadata["timings"] == {"total_s": 1.5}
    assert back.cell_volume_bohr3 == pytest.approx(270.0)
    assert back.scissor_applied
    assert "acie" in back.metadata["software"]
    assert [p.name for p in tmp_path.iterdir()] == ["t.h5"]  # no temp file left


@pytest.mark.parametrize(
    ("over", "match"),
    [
        (dict(f2=np.ones((4, 6))), "shape"),
        (dict(f2=-np.ones((6, 4))), ">= 0"),
        (dict(f2=np.full((6, 4), np.nan)), "finite"),
        (dict(q=np.array([0.1, 0.3, 0.2, 1, 2, 3]) * u.keV), "increasing"),
        (dict(q=np.linspace(0.1, 5.0, 6) * u.s), "keV"),
        (dict(cell_mass=-1 * u.eV), "cell_mass"),
    ],
)
def test_table_validation(over, match):
    with pytest.raises(DataFormatError, match=match):
        small_table(**over)


def _replace_f2(fh, data) -> None:
    del fh["f2"]
    fh.create_dataset("f2", data=data).attrs["units"] = "dimensionless"


def _corrupt(path: Path, fn) -> Path:
    with h5py.File(path, "a") as fh:
        fn(fh)
    return path


@pytest.mark.parametrize(
    ("fn", "match"),
    [
        (lambda fh: fh["q"].attrs.__setitem__("units", "eV"), "units"),
        (lambda fh: fh.__delitem__("energy"), "energy"),
        (lambda fh: fh.attrs.__setitem__("format_version", 2), "format_version"),
        (lambda fh: _replace_f2(fh, np.ones((4, 6))), "shape"),
    ],
)
def test_bad_acie_files(tmp_path, fn, match):
    path = _corrupt(write_acie(small_table(), tmp_path / "t.h5"), fn)
    with pytest.raises(DataFormatError, match=match):
        read_formfactor(path)


def test_not_a_formfactor_file(tmp_path):
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5")
    with pytest.raises(DataFormatError, match="HDF5"):
        read_formfactor(junk)
    with h5py.File(tmp_path / "other.h5", "w") as fh:
        fh["x"] = 1.0
    with pytest.raises(DataFormatError, match="QCDark"):
        read_formfactor(tmp_path / "other.h5")


def test_public_surface_is_pinned():
    import acie.darkmatter as dm
    from acie.darkmatter import electron, formfactor, halo, nuclear, reach, uncertainty
    from acie.darkmatter.formfactor import io, table

    assert set(dm.__all__) >= {
        "halo",
        "nuclear",
        "electron",
        "formfactor",
        "reach",
        "uncertainty",
        "plots",
    }
    assert dm.halo is halo
    assert set(io.__all__) == {
        "ACIE_FORMAT",
        "ACIE_FORMAT_VERSION",
        "read_acie",
        "read_formfactor",
        "read_qcdark",
        "write_acie",
    }
    assert table.__all__ == ["FormFactorTable"]
    assert formfactor.FormFactorTable is table.FormFactorTable
    assert formfactor.read_formfactor is io.read_formfactor
    assert sorted(formfactor.__all__) == sorted(formfactor._EXPORTS)
    for name in formfactor.__all__:  # every lazy export resolves
        assert getattr(formfactor, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        formfactor.nope  # noqa: B018
    for mod in (electron, halo, nuclear, reach, uncertainty):
        for name in mod.__all__:
            assert hasattr(mod, name), f"{mod.__name__}.{name}"


def test_importing_the_formfactor_package_loads_neither_pyscf_nor_h5py():
    import subprocess
    import sys

    code = (
        "import sys, acie.darkmatter.formfactor as f; f.FormFactorSettings; f.compute_form_factor; "
        "print(sorted(m for m in ('pyscf', 'h5py') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
