import json
import os
import time

import pytest

from acie.config import FeatureFlags, load_settings
from acie.errors import ConfigurationError


def test_defaults_and_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("PHYSICS_TOLERANCE", "0.2")
    monkeypatch.setenv("WORKER_THREADS", "4")
    monkeypatch.setenv("ACIE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ACIE_DATABASE_URL", raising=False)
    s = load_settings()
    assert s.PHYSICS_TOLERANCE == 0.2
    assert s.WORKER_THREADS == 4
    assert s.database_url == f"sqlite:///{tmp_path / 'acie.sqlite3'}"


def test_invalid_value_gives_readable_error(monkeypatch):
    monkeypatch.setenv("PHYSICS_TOLERANCE", "-1")
    monkeypatch.setenv("WORKER_THREADS", "many")
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    msg = str(info.value)
    assert "PHYSICS_TOLERANCE" in msg
    assert "'-1'" in msg
    assert "WORKER_THREADS" in msg
    assert "'many'" in msg


def test_settings_file_is_read_and_environment_wins(monkeypatch, tmp_path):
    f = tmp_path / "acie.json"
    f.write_text(json.dumps({"log_level": "DEBUG", "max_steps": 70}))
    monkeypatch.setenv("ACIE_SETTINGS_FILE", str(f))
    monkeypatch.setenv("MAX_STEPS", "90")
    s = load_settings()
    assert s.LOG_LEVEL.value == "DEBUG"
    assert s.MAX_STEPS == 90


def test_settings_file_not_a_mapping(monkeypatch, tmp_path):
    f = tmp_path / "acie.json"
    f.write_text("[1, 2]")
    monkeypatch.setenv("ACIE_SETTINGS_FILE", str(f))
    with pytest.raises(ConfigurationError, match="mapping"):
        load_settings()


def test_feature_flags_reload_without_restart(tmp_path):
    f = tmp_path / "flags.json"
    flags = FeatureFlags(f, defaults={"blind_inference": True})
    assert flags.enabled("blind_inference") is True
    assert flags.enabled("new_decoder") is False
    f.write_text(json.dumps({"new_decoder": True}))
    assert flags.enabled("new_decoder") is True
    time.sleep(0.01)
    f.write_text(json.dumps({"new_decoder": False, "blind_inference": False}))
    os.utime(f, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    assert flags.enabled("new_decoder") is False
    assert flags.snapshot() == {"blind_inference": False, "new_decoder": False}


def test_bad_flags_file_raises_and_keeps_last_good(tmp_path):
    f = tmp_path / "flags.json"
    f.write_text(json.dumps({"a": True}))
    flags = FeatureFlags(f)
    assert flags.enabled("a")
    f.write_text(json.dumps({"a": "yes"}))
    os.utime(f, ns=(time.time_ns(), time.time_ns() + 2_000_000))
    with pytest.raises(ConfigurationError, match="true or false"):
        flags.enabled("a")
    assert flags.enabled("a") is True  # the last good flags, until the file changes again
    f.write_text(json.dumps({"a": False}))
    os.utime(f, ns=(time.time_ns(), time.time_ns() + 4_000_000))
    assert flags.enabled("a") is False


def test_environment_values_and_strictness():
    from acie.config import Environment

    assert load_settings(ACIE_ENV="staging").ACIE_ENV is Environment.staging
    assert [e.value for e in Environment if e.strict] == ["staging", "production"]
    with pytest.raises(ConfigurationError, match="ACIE_ENV"):
        load_settings(ACIE_ENV="prod")


def test_physics_steps_may_not_exceed_max_steps():
    assert load_settings(PHYSICS_STEPS=10, MAX_STEPS=10).MAX_STEPS == 10
    with pytest.raises(ConfigurationError, match="at most MAX_STEPS"):
        load_settings(PHYSICS_STEPS=11, MAX_STEPS=10)


def test_tls_files_go_together(tmp_path):
    with pytest.raises(ConfigurationError, match="go together"):
        load_settings(TLS_CERT_FILE=tmp_path / "cert.pem")
    with pytest.raises(ConfigurationError, match="TLS_CLIENT_CA_FILE needs"):
        load_settings(TLS_CLIENT_CA_FILE=tmp_path / "ca.pem")
