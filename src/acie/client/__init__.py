"""Python SDK of the ACIE inference service: REST and gRPC, retries, blind inference.

>>> from acie.client import RestClient, GrpcClient, RetryPolicy       # doctest: +SKIP
>>> with GrpcClient("127.0.0.1:50051", token=tok) as c:
...     answer = c.counterfactual(images, {"log_stellar_mass": 10.8})

Both clients raise the ACIE error of the server's status code (INVALID_ARGUMENT →
InputValidationError, ALREADY_EXISTS → ConflictError, RESOURCE_EXHAUSTED →
RateLimitError, FAILED_PRECONDITION → PhysicsViolationError, UNAUTHENTICATED →
AuthenticationError, PERMISSION_DENIED → AuthorizationError, NOT_FOUND →
NotFoundError, DEADLINE_EXCEEDED → TimeoutError, UNAVAILABLE →
BackendUnavailableError) and retry RESOURCE_EXHAUSTED and UNAVAILABLE with exponential
backoff (:class:`RetryPolicy`).
"""

from acie.client.grpc_client import GrpcClient
from acie.client.rest import RestClient
from acie.client.results import CounterfactualAnswer, SearchHits, error_for
from acie.client.retry import RETRYABLE, RetryPolicy

__all__ = [
    "RETRYABLE",
    "CounterfactualAnswer",
    "GrpcClient",
    "RestClient",
    "RetryPolicy",
    "SearchHits",
    "error_for",
]
