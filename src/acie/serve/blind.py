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
one client key (``KeyMismatchError``, INVALID_ARGUMENT, for any other); a request's key
must have ``BLIND_MIN_KEY_BITS`` to ``BLIND_MAX_KEY_BITS`` bits (2048–4096 by default;
at least 2048 in production and staging, :mod:`acie.serve.policy`), checked on the
decimal digits of ``n`` before any parsing or exponentiation (CryptoError,
INVALID_ARGUMENT).

Resource bounds: one randomness pool per client key in an LRU
(:class:`acie.privacy.pool_cache.PoolCache`, ``BLIND_POOL_MAX_KEYS`` pools and
``BLIND_POOL_MAX_BYTES`` bytes, one refill thread), and ``REQUEST_TIMEOUT_S`` is a
deadline on the encrypted work itself: past it the evaluation stops (DEADLINE_EXCEEDED).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from acie.errors import ConfigurationError, CryptoError, DataFormatError

__all__ = ["BlindLayer", "check_request_key", "encoder_features", "trunk_features"]

#: Decimal digits per bit, to bound a key's size from its digit count before parsing it.
_LOG10_2 = 0.30102999566398120


def check_request_key(public_key: object, min_bits: int, max_bits: int) -> None:
    """Refuse a request's public key outside ``[min_bits, max_bits]`` before any work.

    Looks only at the decimal string ``n`` (its digit count first, then a linear-time
    gmpy2 parse when that is plausible): no exponentiation, no Python int/str
    conversion (which refuses more than 4300 digits), whatever the payload claims in
    its other fields.

    Raises
    ------
    CryptoError
        The key is smaller or larger than allowed (INVALID_ARGUMENT on the wire).
    DataFormatError
        ``n`` is missing or not a decimal string.
    """
    import gmpy2

    from acie.privacy.paillier import MAX_KEY_DIGITS

    text = public_key.get("n") if isinstance(public_key, dict) else None
    if not isinstance(text, str) or not text.isascii() or not text.isdigit():
        raise DataFormatError(
            "the request's public_key must be a JSON object whose 'n' is a decimal string"
        )
    digits = len(text.lstrip("0")) or 1
    if digits > MAX_KEY_DIGITS:
        size = f"about {int((digits - 1) / _LOG10_2) + 1} bits ({digits} decimal digits)"
    else:
        bits = int(gmpy2.mpz(text).bit_length())
        if min_bits <= bits <= max_bits:
            return
        size = f"{bits} bits"
    raise CryptoError(
        f"the request's Paillier key has {size}; this server accepts keys of at least "
        f"{min_bits} bits and at most {max_bits} bits (BLIND_MIN_KEY_BITS, BLIND_MAX_KEY_BITS)"
    )


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


def trunk_features(engine: Any, images: np.ndarray) -> np.ndarray:
    """The convolutional trunk's output (n, flat) of images (n, C, H, W): the ``encoder`` head's input.

    Runs on the client's machine with the published model; the ``encoder`` head (the
    encoder's feature layer, SiLU, property head) is then evaluated blind, in two rounds.
    """
    import torch

    ckpt = _checkpoint(engine)
    x = np.asarray(images, dtype=np.float32)
    feats = encoder_features(engine, x)  # validates the images like every engine call
    with torch.no_grad():
        xt = ckpt.images.forward(torch.from_numpy(x))
        enc = ckpt.model.encoder.to("cpu")
        out = enc.conv(xt).double().numpy()
    if out.shape[0] != feats.shape[0]:
        raise ConfigurationError("the encoder trunk and features disagree on the batch size")
    return out


def _head_networks(ckpt: Any) -> dict[str, Any]:
    """Factories of the served heads: ``property`` (one round) and ``encoder`` (two rounds)."""
    from acie.privacy.network import BlindNetwork

    enc = ckpt.model.encoder

    def numpy(linear: Any) -> tuple[np.ndarray, np.ndarray]:
        return (
            linear.weight.detach().double().cpu().numpy(),
            linear.bias.detach().double().cpu().numpy(),
        )

    return {
        "property": lambda: BlindNetwork(
            [numpy(enc.property_head)], [], input_value_bound=HEAD_INPUT_BOUND
        ),
        "encoder": lambda: BlindNetwork(
            [numpy(enc.features[0]), numpy(enc.property_head)],
            ["silu"],
            input_value_bound=HEAD_INPUT_BOUND,
        ),
    }


#: Public bound on |input| of the served heads (encoder features / trunk outputs).
HEAD_INPUT_BOUND = 2.0**16
#: The shipped encoder clamps the property log-variances to this range (networks.py).
LOGVAR_CLAMP = (-12.0, 6.0)


class BlindLayer:
    """A linear layer served for blind inference, and the heads served in rounds.

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
    heads : dict of str to callable, optional
        Factories of the :class:`~acie.privacy.network.BlindNetwork` heads served in
        rounds (built on first use).
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
        heads: dict[str, Any] | None = None,
    ) -> None:
        from acie.privacy import EncryptedLinearLayer
        from acie.privacy.blind import BlindInferenceServer
        from acie.serve.blind_sessions import SessionStore

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
        self._head_factories = dict(heads or {})
        self._heads: dict[str, Any] = {}
        self._heads_lock = threading.Lock()
        self.sessions = SessionStore()
        self.cancelled = 0  # evaluations stopped at REQUEST_TIMEOUT_S

    def head(self, name: str) -> Any:
        """The :class:`~acie.privacy.network.BlindNetwork` ``name`` (built on first use)."""
        with self._heads_lock:
            if name not in self._heads:
                if name not in self._head_factories:
                    raise DataFormatError(
                        f"unknown blind head {name!r:.40}; this server has "
                        f"{sorted(self._head_factories)}"
                    )
                self._heads[name] = self._head_factories[name]()
            return self._heads[name]

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
            heads=_head_networks(ckpt),
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
            "heads": {
                name: {
                    "rounds": self.head(name).describe(),
                    "output_layout": {
                        "mean": [0, len(self.output_names)],
                        "logvar": [len(self.output_names), 2 * len(self.output_names)],
                        "logvar_clamp": list(LOGVAR_CLAMP),
                    },
                }
                for name in sorted(self._head_factories)
            },
            "session_format": "acie.blind.session/v1",
        }

    def _limits(self, payload: Any, settings: Any) -> float | None:
        """Check the payload's key size; configure the pools; the deadline of the work."""
        lo, hi = self.key_limits(settings)
        if isinstance(payload, dict):
            check_request_key(payload.get("public_key"), lo, hi)
        if settings is None:
            return None
        self.server.pools.configure(
            max_keys=settings.BLIND_POOL_MAX_KEYS, max_bytes=settings.BLIND_POOL_MAX_BYTES
        )
        return time.monotonic() + settings.REQUEST_TIMEOUT_S

    def _timed(self, settings: Any, work: Any) -> dict[str, Any]:
        try:
            return work()
        except TimeoutError:
            self.cancelled += 1
            limit = settings.REQUEST_TIMEOUT_S if settings is not None else float("nan")
            raise TimeoutError(
                f"blind inference did not finish within {limit:.3g} s (REQUEST_TIMEOUT_S); "
                "the encrypted evaluation was stopped"
            ) from None

    def _extra(self) -> dict[str, Any]:
        return {"output_names": self.output_names, "model_version": self.version}

    def open_session(self, payload: Any, *, owner: str, settings: Any = None) -> dict[str, Any]:
        """Open a session of a head (``acie.blind.session/v1``) and evaluate its round 0.

        Same key checks, pools and deadline as :meth:`apply_json`; see
        :mod:`acie.serve.blind_sessions`.
        """
        from acie.serve.blind_sessions import open_session

        deadline = self._limits(payload, settings)
        head = payload.get("head", "property") if isinstance(payload, dict) else None
        if head is not None and not isinstance(head, str):
            raise DataFormatError(f"'head' must be a string; got {type(head).__name__}")
        heads = {head: self.head(head)} if head is not None else {}
        return self._timed(
            settings,
            lambda: open_session(
                self.sessions,
                heads,
                payload,
                owner=owner,
                client_key=self.client_key,
                pools=self.server.pools,
                deadline=deadline,
                extra=self._extra(),
            ),
        )

    def session_round(
        self, session_id: str, payload: Any, *, owner: str, settings: Any = None
    ) -> dict[str, Any]:
        """Evaluate the next round (``acie.blind.round/v1``) of an open session."""
        from acie.serve.blind_sessions import continue_session

        deadline = None
        if settings is not None:
            deadline = time.monotonic() + settings.REQUEST_TIMEOUT_S
        return self._timed(
            settings,
            lambda: continue_session(
                self.sessions,
                session_id,
                payload,
                owner=owner,
                pools=self.server.pools,
                deadline=deadline,
                extra=self._extra(),
            ),
        )

    def key_limits(self, settings: Any = None) -> tuple[int, int]:
        """``(min_bits, max_bits)`` of the client keys accepted under ``settings``."""
        from acie.privacy.paillier import MAX_KEY_BITS

        lo = settings.BLIND_MIN_KEY_BITS if settings is not None else 0
        hi = settings.BLIND_MAX_KEY_BITS if settings is not None else MAX_KEY_BITS
        return max(lo, self.min_key_bits or 0), hi

    def apply_json(self, request: dict[str, Any], *, settings: Any = None) -> dict[str, Any]:
        """Evaluate on a JSON request; returns the JSON response (still encrypted).

        Parameters
        ----------
        request : dict
            ``acie.blind.request/v1``.
        settings : acie.config.Settings, optional
            Key-size bounds (``BLIND_MIN_KEY_BITS``, ``BLIND_MAX_KEY_BITS``), pool bounds
            (``BLIND_POOL_MAX_KEYS``, ``BLIND_POOL_MAX_BYTES``) and the deadline
            (``REQUEST_TIMEOUT_S``); without them only ``min_key_bits`` applies.

        Raises
        ------
        KeyMismatchError
            A client key is configured and the request uses another.
        CryptoError
            The request's key is outside the accepted sizes.
        DataFormatError
            A malformed request.
        TimeoutError
            The evaluation ran past ``REQUEST_TIMEOUT_S`` and was stopped.
        """
        deadline = self._limits(request, settings)
        return self._timed(
            settings,
            lambda: self.server.evaluate(request, public_key=self.client_key, deadline=deadline),
        )
