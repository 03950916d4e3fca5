"""The one exception hierarchy of ACIE.

Every error ACIE raises on purpose is an :class:`AcieError`, and also inherits the
built-in exception a Python user would expect, so ``except ValueError`` keeps working::

    AcieError
    ├── ConfigurationError (ValueError)            bad setting, bad flags file
    ├── InputValidationError (ValueError)          a value at a boundary is not what was expected
    │   ├── UnitsError                              wrong or missing physical units
    │   ├── ShapeError                              array or tensor of the wrong shape
    │   ├── NonPhysicalValueError                   e.g. a negative mass
    │   └── OutOfRangeError                         e.g. an energy outside a table's range
    ├── UnknownNameError (LookupError, ValueError) unknown node, target, material, property…
    ├── DataFormatError (ValueError)               a file of the wrong layout, shape or units
    ├── GraphError (ValueError)
    │   └── CycleError                              the graph has a directed cycle (named)
    ├── InvalidInterventionError (ValueError)
    │   └── UnknownNodeError (+ UnknownNameError)   intervening on a node the model lacks
    ├── NotInvertibleError (ValueError)            abduction impossible for a mechanism
    ├── IdentificationError (ValueError)           effect not identifiable from the graph
    ├── EstimationError (RuntimeError)             an estimator could not produce a result
    ├── PhysicsViolationError (RuntimeError)       counterfactual stays above tolerance
    ├── CryptoError (ValueError)
    │   ├── EncodingOverflowError (OverflowError)   fixed-point value does not fit
    │   ├── KeyMismatchError                        ciphertexts/keys from different key pairs
    │   └── IntegrityError                          tampered, reordered or wrong-key data
    ├── StoreError (RuntimeError)
    │   ├── NotFoundError (LookupError)
    │   ├── ConflictError                           unique key or compare-and-set conflict
    │   └── AuditIntegrityError                     audit chain broken at a named row
    ├── JobError (RuntimeError)
    │   └── InvalidTransitionError                  job state may not move that way
    ├── BackendUnavailableError (ConnectionError)  database, queue or server unreachable
    ├── AuthError (PermissionError)
    │   ├── AuthenticationError                     missing, expired or forged credentials
    │   └── AuthorizationError                      authenticated, but not allowed
    └── RateLimitError (RuntimeError)              too many requests or queue full
"""

from __future__ import annotations

from collections.abc import Iterable


class AcieError(Exception):
    """Base class of every error ACIE raises on purpose."""


class ConfigurationError(AcieError, ValueError):
    """A setting, environment variable or configuration file is invalid."""


class InputValidationError(AcieError, ValueError):
    """An input at a public boundary is not what was expected."""


class UnitsError(InputValidationError):
    """A quantity has missing or incompatible physical units."""


class ShapeError(InputValidationError):
    """An array or tensor has the wrong shape."""


class NonPhysicalValueError(InputValidationError):
    """A value is outside the physically allowed domain (negative mass, zero exposure…)."""


class OutOfRangeError(InputValidationError):
    """A value lies outside the range a table or model covers."""


class UnknownNameError(AcieError, LookupError, ValueError):
    """A name (node, target, material, property, parameter set…) is not known.

    ``str()`` is the plain message (``KeyError`` would quote it).
    """


class DataFormatError(AcieError, ValueError):
    """A data file does not follow the expected layout, shape or units."""


class GraphError(AcieError, ValueError):
    """A causal graph is malformed."""


class CycleError(GraphError):
    """A graph that must be acyclic has a directed cycle."""

    def __init__(self, cycle: list[object]) -> None:
        self.cycle = list(cycle)
        path = " -> ".join(map(str, [*self.cycle, self.cycle[0]])) if self.cycle else "?"
        super().__init__(f"the graph must be acyclic, but it has the cycle {path}")


class InvalidInterventionError(AcieError, ValueError):
    """An intervention cannot be applied."""


class UnknownNodeError(InvalidInterventionError, UnknownNameError):
    """An intervention or query names a node the model does not have."""

    def __init__(self, node: object, known: Iterable[object]) -> None:
        self.node = node
        self.known: list[object] = list(known)
        super().__init__(
            f"unknown node {node!r}; the model's nodes are: {', '.join(map(str, self.known))}"
        )


class NotInvertibleError(AcieError, ValueError):
    """A mechanism cannot be inverted, so its exogenous noise cannot be abducted."""


class IdentificationError(AcieError, ValueError):
    """A causal effect is not identifiable from the given graph."""


class EstimationError(AcieError, RuntimeError):
    """An estimator could not produce a result from the data."""


class PhysicsViolationError(AcieError, RuntimeError):
    """A result violates physical constraints beyond the tolerance."""

    def __init__(
        self, message: str, *, score: float | None = None, tolerance: float | None = None
    ) -> None:
        self.score = score
        self.tolerance = tolerance
        super().__init__(message)


class CryptoError(AcieError, ValueError):
    """A cryptographic operation failed."""


class EncodingOverflowError(CryptoError, OverflowError):
    """A value does not fit the fixed-point encoding without wrapping."""


class KeyMismatchError(CryptoError):
    """Operands come from different keys."""


class IntegrityError(CryptoError):
    """Encrypted data was tampered with, reordered, or decrypted with the wrong key."""


class StoreError(AcieError, RuntimeError):
    """A storage operation failed."""


class NotFoundError(StoreError, LookupError):
    """A requested record does not exist."""


class ConflictError(StoreError):
    """A write conflicts with existing state (unique key, compare-and-set)."""


class AuditIntegrityError(StoreError):
    """The append-only audit log fails verification."""

    def __init__(self, message: str, *, row: int | None = None) -> None:
        self.row = row
        super().__init__(message)


class JobError(AcieError, RuntimeError):
    """A job could not be queued, leased or completed."""


class InvalidTransitionError(JobError):
    """A job state transition that the state machine forbids."""


class BackendUnavailableError(AcieError, ConnectionError):
    """A backend server (database, queue, model server) cannot be reached."""


class AuthError(AcieError, PermissionError):
    """Authentication or authorisation failed."""


class AuthenticationError(AuthError):
    """Credentials are missing, expired, malformed or forged."""


class AuthorizationError(AuthError):
    """The caller is authenticated but lacks the role or scope."""


class RateLimitError(AcieError, RuntimeError):
    """A rate limit or queue limit was exceeded.

    Attributes
    ----------
    retry_after_s : float or None
        Seconds until a retry can succeed, when the limiter knows (a token bucket does).
    """

    def __init__(self, *args: object, retry_after_s: float | None = None) -> None:
        super().__init__(*args)
        self.retry_after_s = retry_after_s


def expected_got(what: str, expected: str, got: object) -> str:
    """Format the standard message: ``"<what> must be <expected>; got <got!r>"``."""
    return f"{what} must be {expected}; got {got!r}"
