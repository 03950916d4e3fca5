"""JSON bodies of the REST API (pydantic models, published in the OpenAPI document)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "BlindInferenceRequest",
    "BlindInferenceResponse",
    "CounterfactualRequest",
    "CounterfactualResponse",
    "ErrorBody",
    "ErrorResponse",
    "Health",
    "JobList",
    "JobSubmitRequest",
    "JobView",
    "ModelInfo",
    "ModelList",
    "SearchHit",
    "SearchRequest",
    "SearchResponse",
    "TensorJSON",
]

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
RequestId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9._:\-]+$",
        description="caller-chosen id, unique among your requests in flight",
    ),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TensorJSON(_Strict):
    """A float32 array: row-major little-endian bytes, base64 encoded."""

    shape: list[Annotated[int, Field(ge=0, le=1 << 20)]] = Field(min_length=1, max_length=8)
    dtype: Literal["float32"] = "float32"
    data: str = Field(description="base64 of the little-endian float32 bytes")


class CounterfactualRequest(_Strict):
    """A counterfactual question: these images, had the named properties been these values."""

    request_id: RequestId
    observation: TensorJSON = Field(description="images, shape (n, C, H, W)")
    interventions: dict[Annotated[str, Field(min_length=1, max_length=64)], FiniteFloat] = Field(
        default_factory=dict,
        max_length=64,
        description="do(name = value), values in the units of the model's properties",
    )
    physics_tolerance: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = Field(
        default=None, description="largest allowed physics violation score (dimensionless)"
    )
    physics_steps: Annotated[int, Field(ge=0, le=100_000)] | None = None


class JobSubmitRequest(CounterfactualRequest):
    """A counterfactual question run as an asynchronous job."""

    shared: bool = Field(default=False, description="collaborators may read the result")


class CounterfactualResponse(BaseModel):
    """The answer to a counterfactual question."""

    request_id: str
    counterfactual: TensorJSON
    confidence: list[float] = Field(description="per image, in [0, 1], from the posterior entropy")
    violation_score: list[float] = Field(description="per image, physics violation (dimensionless)")
    latency_ms: float = Field(description="server time spent, milliseconds")
    model_version: str = Field(description="SHA-256 of the model weights")
    factual_properties: dict[str, list[float]]
    counterfactual_properties: dict[str, list[float]]
    trace_id: str | None = None


class ErrorBody(BaseModel):
    """What went wrong: the status code name, a message safe to show, the trace id."""

    code: str = Field(description="gRPC status code name, e.g. INVALID_ARGUMENT")
    message: str
    trace_id: str | None = None


class ErrorResponse(BaseModel):
    """The body of every error answer: ``{"error": {...}}``."""

    error: ErrorBody


class Health(BaseModel):
    """Whether the service takes requests, with its GPUs, model and queue depth."""

    status: Literal["SERVING", "NOT_SERVING"]
    gpu_count: int
    model_version: str
    queue_depth: int


class ModelInfo(BaseModel):
    """The served model: name, weights hash, property names and image shape."""

    name: str
    version: str = Field(description="SHA-256 of the weights")
    property_names: list[str]
    image_shape: list[int] = Field(description="(C, H, W) of the images it takes")


class ModelList(BaseModel):
    """The models this server serves (``GET /v1/models``)."""

    models: list[ModelInfo]


class JobView(BaseModel):
    """A job as its owner (or a collaborator, when shared) sees it: state, result or error."""

    job_id: str
    request_id: str
    state: Literal["QUEUED", "PROCESSING", "PHYSICS_CHECK", "COMPLETE", "FAILED"]
    owner: str | None
    shared: bool
    created_at: str | None = None
    updated_at: str | None = None
    result: CounterfactualResponse | None = None
    error: ErrorBody | None = None


class JobList(BaseModel):
    """The jobs the caller may read, newest first (``GET /v1/jobs``)."""

    jobs: list[JobView]


Scalar = Annotated[str | int | float | bool, Field(union_mode="left_to_right")]


class SearchRequest(_Strict):
    """k nearest neighbours of a query vector among the images of finished jobs.

    The vectors are the encoder features of the served model (``GET /v1/blind/layer``
    gives their size ``in_features``; :func:`acie.serve.blind.encoder_features` computes
    them). You only find images you may read (your own; shared ones for collaborators).
    """

    vector: list[FiniteFloat] = Field(min_length=1, max_length=4096)
    k: Annotated[int, Field(ge=1, le=1000)] = 10
    filter: (
        dict[
            Annotated[str, Field(min_length=1, max_length=64)],
            Scalar | dict[Literal["==", "!=", "<", "<=", ">", ">=", "in"], Scalar | list[Scalar]],
        ]
        | None
    ) = Field(default=None, description='metadata filter, e.g. {"log_stellar_mass": {">": 10}}')


class SearchHit(BaseModel):
    """One neighbour: the stored image's id, its distance to the query and its metadata."""

    id: str
    distance: float
    metadata: dict[str, Any] = Field(default_factory=dict)


class SearchResponse(BaseModel):
    """The nearest neighbours of the query, nearest first."""

    hits: list[SearchHit]


class BlindInferenceRequest(_Strict):
    """An encrypted feature vector (Paillier, the client's own key) for the blind layer."""

    request_id: RequestId
    encrypted_input: dict[str, Any] = Field(
        description="acie.privacy EncryptedVector in its JSON form (public key included)"
    )


class BlindInferenceResponse(BaseModel):
    """The encrypted layer output, with the names of its entries and the model version."""

    request_id: str
    encrypted_output: dict[str, Any] = Field(
        description="EncryptedVector under the same public key; only the client can decrypt"
    )
    output_names: list[str]
    model_version: str
