"""The client side of blind inference in rounds, whatever the protocol (REST or gRPC).

:func:`run_blind_head` encrypts round 0, sends it, and for every round decrypts the
encrypted output, applies the non-linearity the head declares, re-encrypts and sends
the next round; the transport is two callables (open a session, send a round) that
return the ``acie.blind.round-output/v1`` document. Only ciphertexts and the public key
leave the process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["run_blind_head"]


def run_blind_head(
    features: Any,
    *,
    private_key: Any,
    head: str,
    spec: dict[str, Any],
    open_session: Callable[[dict[str, Any]], dict[str, Any]],
    send_round: Callable[[str, int, dict[str, Any]], dict[str, Any]],
    pool: Any = None,
) -> dict[str, np.ndarray]:
    """Drive the rounds of ``head`` (its description ``spec`` from ``GET /v1/blind/layer``).

    Parameters
    ----------
    features : array (in_features,)
        The head's input.
    private_key : acie.privacy.PaillierPrivateKey
        The client's key pair.
    head : str
        The head's name.
    spec : dict
        ``heads[head]`` of the blind layer's description: ``rounds`` and ``output_layout``.
    open_session : callable
        Sends an ``acie.blind.session/v1`` document; returns round 0's output document.
    send_round : callable
        ``(session_id, round, acie.blind.round/v1 document)`` → that round's output document.
    pool : acie.privacy.RandomnessPool, optional
        The client's randomness precomputed off-line.

    Returns
    -------
    dict of str to numpy.ndarray
        ``output``, ``mean``, ``logvar`` (clamped as the model clamps it) and
        ``activations`` (one row per hidden layer, in the server's secret order).
    """
    from acie.privacy.network import ROUND_FORMAT, SESSION_FORMAT, BlindNetworkClient
    from acie.privacy.vector import EncryptedVector

    client = BlindNetworkClient(private_key=private_key, rounds=spec["rounds"], pool=pool)
    x = client.encrypt_round(0, np.asarray(features, dtype=np.float64))
    out = open_session(
        {
            "format": SESSION_FORMAT,
            "head": head,
            "public_key": private_key.public_key.to_dict(),
            "input": x.to_dict(),
        }
    )
    sid = out["session_id"]
    for k in range(len(spec["rounds"])):
        z = EncryptedVector.from_dict(out["output"], private_key.public_key)
        nxt = client.next_input(k, z)
        if nxt is None:
            break
        out = send_round(
            sid, k + 1, {"format": ROUND_FORMAT, "round": k + 1, "input": nxt.to_dict()}
        )
    layout = spec["output_layout"]
    y = client.output
    lo, hi = layout["logvar_clamp"]
    return {
        "output": y,
        "mean": y[layout["mean"][0] : layout["mean"][1]],
        "logvar": np.clip(y[layout["logvar"][0] : layout["logvar"][1]], lo, hi),
        "activations": np.asarray(client.activations),
    }
