"""Corrupt telemetry never costs intact records: skip, resynchronise, quarantine, never delete."""

from __future__ import annotations

import gzip
import json

import pytest

from acie.ops.cipher import codec_for
from acie.ops.emitter import TelemetryEmitter
from acie.ops.telemetry_file import quarantined, read_telemetry, repair


def _write(path, records, *, codec=None, batch=5):
    with TelemetryEmitter(path, compress=True, batch_size=batch, codec=codec) as em:
        for r in records:
            em.emit(r)


def _member_offsets(data: bytes) -> list[int]:
    """Start offsets of the gzip members (the emitter writes mtime=0 members)."""
    import zlib

    offsets, off = [], 0
    while off < len(data):
        offsets.append(off)
        d = zlib.decompressobj(wbits=31)
        d.decompress(data[off:])
        off = len(data) - len(d.unused_data)
    return offsets


def _corrupt_member(path, index: int) -> None:
    data = bytearray(path.read_bytes())
    start = _member_offsets(bytes(data))[index]
    for i in range(start + 12, start + 30):  # inside the deflate data: a CRC/inflate error
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_corrupt_middle_member_keeps_every_later_record(tmp_path, records):
    path = tmp_path / "t.jsonl.gz"
    _write(path, records[:30])  # 6 members of 5 records
    _corrupt_member(path, 2)
    read = read_telemetry(path)
    assert read.records == records[:10] + records[15:30]
    assert read.skipped["corrupt"] == 1
    # repair cuts only a torn tail: here there is none, so it changes nothing
    size = path.stat().st_size
    assert repair(path) == 0
    assert path.stat().st_size == size
    # and appending after it keeps everything, old and new
    with TelemetryEmitter(path, batch_size=5) as em:
        for r in records[30:35]:
            em.emit(r)
    assert read_telemetry(path).records == records[:10] + records[15:35]


def test_encrypted_stream_resynchronises_after_a_corrupt_member(tmp_path, records, key_b64):
    path = tmp_path / "enc.jsonl.gz"
    _write(path, records[:30], codec=codec_for(path, key=key_b64))
    _corrupt_member(path, 1)
    read = read_telemetry(path, codec=codec_for(path, key=key_b64))
    assert read.records == records[:5] + records[10:30]
    # the emitter continues at the right line numbers after the gap
    with TelemetryEmitter(path, batch_size=5, codec=codec_for(path, key=key_b64)) as em:
        assert em.position == 30
        for r in records[30:35]:
            em.emit(r)
    read = read_telemetry(path, codec=codec_for(path, key=key_b64))
    assert read.records == records[:5] + records[10:35]


@pytest.mark.parametrize("compress", [False, True])
def test_repair_moves_the_torn_tail_aside_instead_of_deleting_it(tmp_path, records, compress):
    path = tmp_path / ("t.jsonl.gz" if compress else "t.jsonl")
    with TelemetryEmitter(path, compress=compress, batch_size=5) as em:
        for r in records[:10]:
            em.emit(r)
    torn = records[10:12] if compress else records[10:11]  # a member; a line
    tail = b"".join(json.dumps(r).encode() + b"\n" for r in torn)
    tail = gzip.compress(tail)[:-9] if compress else tail[:-7]
    with open(path, "ab") as fh:
        fh.write(tail)
    removed = repair(path)
    assert removed == len(tail)
    aside = quarantined(path)
    assert len(aside) == 1
    assert aside[0].read_bytes() == tail
    assert aside[0].parent == path.parent
    assert read_telemetry(path).records == records[:10]


def test_a_file_that_is_garbage_from_the_start_is_quarantined_whole(tmp_path, records):
    path = tmp_path / "t.jsonl.gz"
    junk = b"\x1f\x8b\x08\x00" + bytes(range(256)) * 4
    path.write_bytes(junk)
    assert read_telemetry(path).records == []
    assert repair(path) == len(junk)
    assert quarantined(path)[0].read_bytes() == junk
    _write(path, records[:5])
    assert read_telemetry(path).records == records[:5]
