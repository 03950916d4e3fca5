"""Blind inference end to end: the client encrypts, the server evaluates, the client decrypts.

The server holds a linear model (for example a linear probe of galaxy properties from
image features) and only the client's *public* key; it never sees the features or the
predictions. The client holds the key pair.

Request (client → server), JSON-safe::

    {"format": "acie.blind.request/v1",
     "public_key": {PaillierPublicKey.to_dict()},
     "input": {EncryptedVector.to_dict()}}

Response (server → client)::

    {"format": "acie.blind.response/v1",
     "key_fingerprint": "...", "output": {EncryptedVector.to_dict()}}
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from acie.errors import DataFormatError, InputValidationError, KeyMismatchError
from acie.privacy.encoding import DEFAULT_PRECISION, DEFAULT_VALUE_BOUND
from acie.privacy.linear import EncryptedLinearLayer
from acie.privacy.paillier import PaillierPrivateKey, PaillierPublicKey
from acie.privacy.pool import RandomnessPool
from acie.privacy.pool_cache import PoolCache
from acie.privacy.vector import EncryptedVector

__all__ = [
    "REQUEST_FORMAT",
    "RESPONSE_FORMAT",
    "BlindInferenceClient",
    "BlindInferenceServer",
    "blind_infer",
]

REQUEST_FORMAT = "acie.blind.request/v1"
RESPONSE_FORMAT = "acie.blind.response/v1"


class BlindInferenceClient:
    """The data owner: encrypts features with its key pair and decrypts predictions.

    Parameters
    ----------
    private_key : PaillierPrivateKey
        The client's key pair (the public part is sent to the server).
    precision : int
        Fractional bits of the feature encoding.
    value_bound : float
        Declared public bound on ``|feature|``.
    """

    def __init__(
        self,
        *,
        private_key: PaillierPrivateKey,
        precision: int = DEFAULT_PRECISION,
        value_bound: float = DEFAULT_VALUE_BOUND,
    ) -> None:
        if not isinstance(private_key, PaillierPrivateKey):
            raise InputValidationError(
                f"private_key must be a PaillierPrivateKey; got {type(private_key).__name__}"
            )
        self.private_key = private_key
        self.precision = precision
        self.value_bound = value_bound

    @property
    def public_key(self) -> PaillierPublicKey:
        """The public half of the client's key pair (sent with every request)."""
        return self.private_key.public_key

    def encrypt(self, features: ArrayLike) -> EncryptedVector:
        """Encrypt a 1-D feature vector (key-holder CRT encryption)."""
        return EncryptedVector.encrypt(
            self.private_key, features, precision=self.precision, value_bound=self.value_bound
        )

    def request(self, features: ArrayLike) -> dict[str, Any]:
        """The JSON-safe request for ``features``: public key and encrypted input."""
        return {
            "format": REQUEST_FORMAT,
            "public_key": self.public_key.to_dict(),
            "input": self.encrypt(features).to_dict(),
        }

    def decrypt(self, response: dict[str, Any] | EncryptedVector) -> np.ndarray:
        """Decrypt a response (mapping or :class:`EncryptedVector`) to a float64 array."""
        if isinstance(response, EncryptedVector):
            return response.decrypt(self.private_key)
        if not isinstance(response, dict) or response.get("format") != RESPONSE_FORMAT:
            got = response.get("format") if isinstance(response, dict) else type(response).__name__
            raise DataFormatError(
                f"a blind-inference response must have format {RESPONSE_FORMAT!r}; got {got!r}"
            )
        output = EncryptedVector.from_dict(response.get("output"), self.public_key)
        return output.decrypt(self.private_key)


class BlindInferenceServer:
    """The model owner: evaluates a linear layer on encrypted inputs with public keys only.

    Parameters
    ----------
    layer : EncryptedLinearLayer
        The model.
    pool_capacity : int
        Most precomputed values per client key (see :class:`PoolCache`).
    background_refill : bool
        After each request, queue that key's pool for refilling by the cache's single
        background thread when it is below half full.
    pools : PoolCache, optional
        The per-key randomness pools (default: a new cache with ``pool_capacity``).
    """

    def __init__(
        self,
        *,
        layer: EncryptedLinearLayer,
        pool_capacity: int = 256,
        background_refill: bool = False,
        pools: PoolCache | None = None,
    ) -> None:
        if not isinstance(layer, EncryptedLinearLayer):
            raise InputValidationError(
                f"layer must be an EncryptedLinearLayer; got {type(layer).__name__}"
            )
        self.layer = layer
        self.pools = pools if pools is not None else PoolCache(capacity_per_key=pool_capacity)
        self.background_refill = background_refill
        self.cancelled = 0

    def pool(self, public_key: PaillierPublicKey) -> RandomnessPool:
        """The randomness pool for ``public_key`` (created empty on first use)."""
        return self.pools.get(public_key)

    def prefill(self, public_key: PaillierPublicKey, count: int | None = None) -> int:
        """Precompute randomness for ``public_key`` (call off the request path); returns how many."""
        return self.pool(public_key).fill(count)

    def evaluate_vector(
        self, x: EncryptedVector, *, deadline: float | None = None
    ) -> EncryptedVector:
        """``E(W x + b)`` for an encrypted input, re-randomised from the key's pool.

        ``deadline`` (a ``time.monotonic()`` value) stops the work itself with
        :class:`TimeoutError` once passed; :attr:`cancelled` counts such stops.
        """
        pool = self.pool(x.public_key)
        try:
            y = self.layer(x, pool=pool, deadline=deadline)
        except TimeoutError:
            self.cancelled += 1
            raise
        if self.background_refill and pool.available < pool.capacity // 2:
            self.pools.request_refill(x.public_key)
        return y

    def evaluate(
        self,
        request: dict[str, Any],
        *,
        public_key: PaillierPublicKey | None = None,
        deadline: float | None = None,
    ) -> dict[str, Any]:
        """Answer a JSON request (see the module docstring).

        Parameters
        ----------
        request : dict
            The client's request.
        public_key : PaillierPublicKey, optional
            If the server is configured with the client's key (``PAILLIER_PUB_KEY``), the
            request's key must match it.
        deadline : float, optional
            ``time.monotonic()`` value after which the work stops (:class:`TimeoutError`).
        """
        if not isinstance(request, dict) or request.get("format") != REQUEST_FORMAT:
            got = request.get("format") if isinstance(request, dict) else type(request).__name__
            raise DataFormatError(
                f"a blind-inference request must have format {REQUEST_FORMAT!r}; got {got!r}"
            )
        key = PaillierPublicKey.from_dict(request.get("public_key"))
        if public_key is not None and key != public_key:
            raise KeyMismatchError(
                f"the request is under key {key.fingerprint[:16]}…, the server expects "
                f"{public_key.fingerprint[:16]}…"
            )
        x = EncryptedVector.from_dict(request.get("input"), key)
        y = self.evaluate_vector(x, deadline=deadline)
        return {
            "format": RESPONSE_FORMAT,
            "key_fingerprint": key.fingerprint,
            "output": y.to_dict(),
        }


def blind_infer(
    features: ArrayLike,
    *,
    layer: EncryptedLinearLayer,
    private_key: PaillierPrivateKey,
    precision: int = DEFAULT_PRECISION,
    value_bound: float = DEFAULT_VALUE_BOUND,
    pool: RandomnessPool | None = None,
) -> np.ndarray:
    """Run one blind inference in-process: encrypt, evaluate with the public key, decrypt.

    Returns
    -------
    numpy.ndarray
        The decrypted ``W x + b`` (quantised model), float64.
    """
    client = BlindInferenceClient(
        private_key=private_key, precision=precision, value_bound=value_bound
    )
    x = client.encrypt(features)
    return client.decrypt(layer(x, pool=pool))
