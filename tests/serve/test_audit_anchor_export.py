"""`acie serve` exports the signed audit head at start and at shutdown (AUDIT_ANCHOR_FILE)."""

from __future__ import annotations

from acie.store import AuditLog, create_engine_for
from acie.store.anchors import generate_key, load_public_key, read_anchor


def test_runtime_exports_a_signed_head_at_start_and_at_close(
    tiny_engine, settings_factory, tmp_path
):
    from acie.serve.server import build_runtime

    priv, pub = generate_key(tmp_path / "anchor.key")
    anchor = tmp_path / "anchors" / "head.json"
    settings = settings_factory(
        AUDIT_ANCHOR_FILE=anchor, AUDIT_ANCHOR_KEY_FILE=priv, AUDIT_ANCHOR_INTERVAL_S=3600
    )
    rt = build_runtime(settings, model=tiny_engine)
    try:
        assert read_anchor(anchor, public_key=load_public_key(pub)).seq == 0
        engine = create_engine_for(settings.database_url)
        log = AuditLog(engine)
        for i in range(3):
            log.append(request_id=f"r{i}", action="rest.POST /v1/counterfactual:OK")
    finally:
        rt.close()
    head = read_anchor(anchor, public_key=load_public_key(pub))
    assert head == log.head()
    assert head.seq == 3
    engine.dispose()
