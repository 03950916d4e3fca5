import base64
import gzip
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from acie.errors import InputValidationError
from acie.ops.cipher import codec_for
from acie.ops.emitter import TelemetryEmitter
from acie.ops.telemetry_file import read_telemetry, repair


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("encrypt", [False, True])
def test_round_trip(tmp_path, records, key_b64, compress, encrypt):
    path = tmp_path / "t.jsonl"
    codec = codec_for(path, key=key_b64) if encrypt else None
    with TelemetryEmitter(path, batch_size=7, compress=compress, codec=codec) as em:
        for r in records:
            em.emit(r)
    read = read_telemetry(path, codec=codec)
    assert read.records == records
    assert not read.skipped
    raw = path.read_bytes()
    assert raw.startswith(b"\x1f\x8b") == compress
    if compress:
        text = gzip.decompress(raw)  # a standard gzip stream (several members)
        assert text.count(b"\n") == len(records)
    if encrypt:
        assert b"infra_cost_usd" not in (gzip.decompress(raw) if compress else raw)


def test_appending_resumes_positions_and_format(tmp_path, records, key_b64):
    path = tmp_path / "t.jsonl.gz"
    codec = codec_for(path, key=key_b64)
    with TelemetryEmitter(path, compress=True, codec=codec) as em:
        for r in records[:15]:
            em.emit(r)
    with TelemetryEmitter(path, compress=False, codec=codec) as em:  # keeps the file's gzip
        assert em.compress
        assert em.position == 15
        for r in records[15:]:
            em.emit(r)
    assert read_telemetry(path, codec=codec).records == records


def test_invalid_record_raises_and_writes_nothing(tmp_path, records):
    path = tmp_path / "t.jsonl"
    em = TelemetryEmitter(path, batch_size=1)
    with pytest.raises(InputValidationError, match="qps"):
        em.emit({**records[0], "qps": -5})
    em.close()
    assert not path.exists() or path.read_bytes() == b""


def test_bad_batch_size(tmp_path):
    with pytest.raises(InputValidationError, match="batch_size"):
        TelemetryEmitter(tmp_path / "t.jsonl", batch_size=0)


def test_wrong_key_tamper_and_reorder_are_skipped_and_counted(tmp_path, records, key_b64):
    path = tmp_path / "t.jsonl"
    codec = codec_for(path, key=key_b64)
    with TelemetryEmitter(path, codec=codec) as em:
        for r in records[:10]:
            em.emit(r)
    other_key = codec_for(path, key=base64.b64encode(bytes(range(32))).decode())
    wrong = read_telemetry(path, codec=other_key)
    assert wrong.records == []
    assert wrong.skipped["undecryptable"] == 10

    lines = path.read_bytes().split(b"\n")[:-1]
    env = json.loads(lines[2])
    env["ct"] = ("A" if env["ct"][0] != "A" else "B") + env["ct"][1:]
    lines[2] = json.dumps(env).encode()
    lines[5], lines[6] = lines[6], lines[5]
    path.write_bytes(b"\n".join(lines) + b"\n")
    read = read_telemetry(path, codec=codec)
    assert read.skipped["undecryptable"] == 3
    assert sorted(b.number for b in read.bad) == [3, 6, 7]
    assert len(read.records) == 7

    renamed = tmp_path / "other.jsonl"  # the stream id is bound in: another stream fails
    renamed.write_bytes(path.read_bytes())
    assert read_telemetry(renamed, codec=codec_for(renamed, key=key_b64)).records == []


def test_torn_tail_is_ignored_then_repaired(tmp_path, records):
    path = tmp_path / "t.jsonl"
    with TelemetryEmitter(path) as em:
        for r in records[:5]:
            em.emit(r)
    with open(path, "ab") as fh:
        fh.write(b'{"schema_version": "1.0", "timest')
    read = read_telemetry(path)
    assert len(read.records) == 5
    assert read.skipped["truncated"] == 1
    with TelemetryEmitter(path) as em:  # repairs on open, then appends
        em.emit(records[5])
    read = read_telemetry(path)
    assert read.records == records[:6]
    assert not read.skipped


def test_torn_gzip_member_is_repaired(tmp_path, records):
    path = tmp_path / "t.jsonl.gz"
    with TelemetryEmitter(path, compress=True, batch_size=5) as em:
        for r in records[:10]:
            em.emit(r)
    member = gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in records[10:20]))
    with open(path, "ab") as fh:
        fh.write(member[: len(member) // 2])
    read = read_telemetry(path)
    assert len(read.records) == 10
    assert read.skipped["truncated"] == 1
    assert repair(path) == len(member) // 2
    assert read_telemetry(path).records == records[:10]


WRITER = r"""
import sys
from acie.ops.emitter import TelemetryEmitter
from acie.ops.simulate import simulate_telemetry
recs = simulate_telemetry(n=100000, seed=1)
print("ready", flush=True)
with TelemetryEmitter(sys.argv[1], batch_size=int(sys.argv[2]), compress=sys.argv[3] == "1") as em:
    for r in recs:
        em.emit(r)
"""


@pytest.mark.parametrize("compress", [False, True])
def test_kill_minus_9_leaves_only_whole_lines(tmp_path, compress):
    path = tmp_path / "t.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), "50", "1" if compress else "0"],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    assert proc.stdout.readline().strip() == b"ready"
    deadline = time.monotonic() + 30
    while (not path.exists() or path.stat().st_size < 20_000) and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    read = read_telemetry(path)
    assert read.records, "the writer wrote nothing before it was killed"
    assert set(read.skipped) <= {"truncated"}
    assert not read.bad
    assert [r["step"] for r in read.records] == list(range(len(read.records)))
    with TelemetryEmitter(path) as em:  # appending after the crash works
        assert em.position == len(read.records)
