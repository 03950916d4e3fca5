import hashlib

import pytest
import torch

from acie.deepscm.checkpoint import load_checkpoint, save_checkpoint, sha256_file
from acie.errors import DataFormatError


def test_version_is_sha256_of_the_file(tiny_model):
    path = tiny_model.checkpoint
    assert tiny_model.model_version == hashlib.sha256(path.read_bytes()).hexdigest()
    assert sha256_file(path) == tiny_model.model_version
    ck = load_checkpoint(path)
    assert ck.version == tiny_model.model_version
    assert ck.metadata["epoch"] == 3


def test_round_trip_keeps_weights_and_resave_is_deterministic(tiny_model, tmp_path):
    ck = load_checkpoint(tiny_model.checkpoint)
    v1 = save_checkpoint(
        tmp_path / "a.pt",
        model=ck.model,
        properties=ck.properties,
        images=ck.images,
        metadata=ck.metadata,
    )
    v2 = save_checkpoint(
        tmp_path / "b.pt",
        model=ck.model,
        properties=ck.properties,
        images=ck.images,
        metadata=ck.metadata,
    )
    assert v1 == v2
    again = load_checkpoint(tmp_path / "a.pt")
    for (k, a), (_, b) in zip(
        ck.model.state_dict().items(), again.model.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), k
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary files left behind


def test_corrupt_or_foreign_files_are_refused(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(DataFormatError, match="not a readable torch checkpoint"):
        load_checkpoint(bad)
    other = tmp_path / "other.pt"
    torch.save({"format": "something-else"}, other)
    with pytest.raises(DataFormatError, match=r"acie-deepscm-checkpoint/1.*something-else"):
        load_checkpoint(other)
