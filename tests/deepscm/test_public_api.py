import subprocess
import sys

import acie.deepscm as deepscm


def test_public_surface_is_pinned():
    assert sorted(deepscm.__all__) == sorted(
        [
            "CounterfactualEngine",
            "CounterfactualResult",
            "DeepSCM",
            "DeepSCMConfig",
            "PropertyMechanisms",
            "TrainConfig",
            "Watermark",
            "evaluate",
            "load_checkpoint",
            "load_default_model",
            "train",
        ]
    )
    for name in deepscm.__all__:
        assert getattr(deepscm, name) is not None


def test_import_does_not_load_torch():
    code = "import sys, acie.deepscm; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
