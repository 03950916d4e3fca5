"""A QCDark file whose f2 does not match its own binning is refused (issue 20)."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest
from reference_data import QCDARK_GE
from reference_data import needs_qcdark_ge as needs_ge

from acie.darkmatter.formfactor.io import read_formfactor, read_qcdark
from acie.errors import DataFormatError


def _copy_with_f2(tmp_path, f2_fn):
    out = tmp_path / "Ge_copy.hdf5"
    shutil.copyfile(QCDARK_GE, out)
    with h5py.File(out, "r+") as fh:
        f2 = f2_fn(fh["results/f2"][...])
        del fh["results/f2"]
        fh["results"].create_dataset("f2", data=f2)
    return out


@needs_ge
def test_transposed_f2_is_refused(tmp_path):
    path = _copy_with_f2(tmp_path, np.transpose)
    for reader in (read_qcdark, read_formfactor):
        with pytest.raises(DataFormatError, match=r"\(1000, 500\).*transposed.*\(500, 1000\)"):
            reader(path)


@needs_ge
def test_f2_disagreeing_with_binning_is_refused(tmp_path):
    path = _copy_with_f2(tmp_path, lambda f2: f2[:900])
    with pytest.raises(
        DataFormatError, match=r"\(1000, 500\) from run_settings/binning.*\(900, 500\)"
    ):
        read_qcdark(path)


@needs_ge
def test_untouched_copy_still_reads(tmp_path):
    path = _copy_with_f2(tmp_path, lambda f2: f2)
    assert read_qcdark(path).shape == (1000, 500)
