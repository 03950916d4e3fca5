"""Blind inference on the server: a plaintext linear layer applied to a client's ciphertexts.

The served layer is the **property head** of the deep SCM's encoder: the linear map
from the encoder's image features to the mean of the property posterior ``q(s|x)``
in standardised coordinates. The client runs the (published) convolutional trunk on
its own images, encrypts the feature vector with its own Paillier key, and sends the
ciphertexts with the public key; the server returns ``E(W f + b)``; only the client can
decrypt, and it turns the standardised means into physical units with the scaler that
``GET /v1/blind/layer`` publishes. The server never holds a private key, so no role
(admin included) can obtain decryption keys or plaintext results through the API.

Wire format: the request and response dictionaries of :mod:`acie.privacy.blind`
(``acie.blind.request/v1`` / ``acie.blind.response/v1``).

Key policy: with ``PAILLIER_PUB_KEY`` set, the server evaluates only requests under that
one client key (``KeyMismatchError``, INVALID_ARGUMENT, for any other); in production and
staging a request's key must have at least 2048 bits (:mod:`acie.serve.policy`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from acie.errors import ConfigurationError

__all__ = ["BlindLayer", "encoder_features"]


def _checkpoint(engine: Any) -> Any:
    """The loaded checkpoint behind a deep-SCM CounterfactualEngine (its public accessor)."""
    ckpt = getattr(engine, "checkpoint", None)
    if ckpt is None or not hasattr(getattr(ckpt, "model", None), "encoder"):
        raise ConfigurationError(
            "blind inference needs a deep-SCM CounterfactualEngine (encoder property head); "
            f"got {type(engine).__name__}"
        )
    return ckpt


def encoder_features(engine: Any, images: np.ndarray) -> np.ndarray:
    """The encoder features (n, F) of images (n, C, H, W): what a client encrypts.

    Runs on the client's machine with the published model (same SHA-256 version as the
    server's), so the images never leave it. Delegates to
    :meth:`acie.deepscm.engine.CounterfactualEngine.encoder_features`.
    """
    _checkpoint(engine)
    return np.asarray(engine.encoder_features(np.asarray(images, dtype=np.float32)))


class BlindLayer:
    """A linear layer served for blind inference.

    Parameters
    ----------
    weights : array (out, in)
    bias : array (out,)
    output_names : sequence of str
    version : str
        SHA-256 identifying the layer (model version of its source).
    scaler : dict
        ``names``, ``log``, ``mean``, ``std`` for turning outputs into physical units.
    weight_bits : int
        Signed bits of the quantised weights.
    description : str
        What the layer computes, for :meth:`describe`.
    client_key : PaillierPublicKey or None
        The only client key accepted (``PAILLIER_PUB_KEY``); ``None``: any key.
    min_key_bits : int or None
        Smallest client key accepted, bits; ``None``: any size.
    """

    def __init__(
        self,
        *,
        weights: Any,
        bias: Any,
        output_names: Sequence[str],
        version: str,
        scaler: dict[str, Any] | None = None,
        weight_bits: int = 16,
        description: str = "",
        client_key: Any = None,
        min_key_bits: int | None = None,
    ) -> None:
        from acie.privacy import EncryptedLinearLayer
        from acie.privacy.blind import BlindInferenceServer

        w = np.asarray(weights, dtype=np.float64)
        precision = min(EncryptedLinearLayer.max_precision(w, weight_bits=weight_bits), 24)
        self.layer = EncryptedLinearLayer(
            w, np.asarray(bias, dtype=np.float64), precision=precision, weight_bits=weight_bits
        )
        # outputs are re-randomised from a per-key pool refilled off the request path
        self.server = BlindInferenceServer(layer=self.layer, background_refill=True)
        self.output_names = list(output_names)
        self.version = version
        self.scaler = dict(scaler or {})
        self.description = description
        self.client_key = client_key
        self.min_key_bits = min_key_bits

    @classmethod
    def from_engine(
        cls, engine: Any, *, client_key: Any = None, min_key_bits: int | None = None
    ) -> BlindLayer:
        """The property-posterior-mean head of a deep-SCM engine's encoder.

        ``client_key`` and ``min_key_bits`` are the key policy (see the class).
        """
        ckpt = _checkpoint(engine)
        head = ckpt.model.encoder.property_head
        names = list(ckpt.properties.names)
        d = len(names)
        w = head.weight.detach().double().cpu().numpy()[:d]
        b = head.bias.detach().double().cpu().numpy()[:d]
        digest = hashlib.sha256(f"{engine.model_version}:property_head".encode()).hexdigest()
        return cls(
            weights=w,
            bias=b,
            output_names=names,
            version=digest,
            scaler=ckpt.properties.to_dict(),
            description="mean of q(s|x) in standardised coordinates from the encoder "
            f"features of model {engine.model_version}",
            client_key=client_key,
            min_key_bits=min_key_bits,
        )

    def describe(self) -> dict[str, Any]:
        """What a client needs: sizes, output names and how to read the outputs."""
        return {
            "in_features": self.layer.in_features,
            "out_features": self.layer.out_features,
            "output_names": self.output_names,
            "weight_precision_bits": self.layer.precision,
            "weight_bits": self.layer.weight_bits,
            "version": self.version,
            "description": self.description,
            "output_scaler": self.scaler,
            "request_format": "acie.blind.request/v1",
            "client_key_fingerprint": self.client_key.fingerprint if self.client_key else None,
            "min_key_bits": self.min_key_bits,
        }

    def apply_json(self, request: dict[str, Any]) -> dict[str, Any]:
        """Evaluate on a JSON request; returns the JSON response (still encrypted).

        Raises
        ------
        KeyMismatchError
            A client key is configured and the request uses another.
        CryptoError
            The request's key is smaller than ``min_key_bits``.
        DataFormatError
            A malformed request.
        """
        from acie.privacy.paillier import PaillierPublicKey
        from acie.serve.policy import check_client_key_bits

        if self.min_key_bits is not None and isinstance(request, dict):
            key = PaillierPublicKey.from_dict(cast(dict[str, Any], request.get("public_key")))
            check_client_key_bits(key.bits, self.min_key_bits)
        return self.server.evaluate(request, public_key=self.client_key)
