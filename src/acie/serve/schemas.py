"""JSON bodies of the REST API (pydantic models, published in the OpenAPI document)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

__all__ = [
    "BlindInferenceRequest",
    "BlindInferenceResponse",
    "CounterfactualRequest",
    "CounterfactualResponse",
    "ErrorBody",
    "ErrorResponse",
    "GalaxyIntervention",
    "Health",
    "JobList",
    "JobSubmitRequest",
    "JobView",
    "ModelInfo",
    "ModelList",
    "Neighbour",
    "Retrieval",
    "SearchHit",
    "SearchRequest",
    "SearchResponse",
    "TensorJSON",
    "Uncertainty",
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


Scalar = Annotated[str | int | float | bool, Field(union_mode="left_to_right")]
#: a metadata filter of a vector search: field -> value or {op: value}
MetadataFilter = dict[
    Annotated[str, Field(min_length=1, max_length=64)],
    Scalar | dict[Literal["==", "!=", "<", "<=", ">", ">=", "in"], Scalar | list[Scalar]],
]


#: a relative (or spelled-out absolute) intervention: exactly one of value, shift, factor
RelativeIntervention = Annotated[
    dict[
        Literal["value", "shift", "factor"],
        Annotated[float, Field(strict=True, allow_inf_nan=False)],
    ],
    Field(
        min_length=1,
        max_length=1,
        description='{"value": v}, {"shift": d} (node units; dex on log_* nodes) or '
        '{"factor": f > 0} of the galaxy\'s own abducted value (on a log node: shift by '
        "log10(f))",
    ),
]


class _CounterfactualFields(_Strict):
    """What a synchronous request and a job share."""

    request_id: RequestId
    observation: TensorJSON = Field(description="images, shape (n, C, H, W)")
    interventions: dict[
        Annotated[str, Field(min_length=1, max_length=64)],
        Annotated[FiniteFloat | RelativeIntervention, Field(union_mode="left_to_right")],
    ] = Field(
        default_factory=dict,
        max_length=64,
        description="do(name = value) in the units of the model's properties, or a shift "
        'or factor of each galaxy\'s own abducted value, e.g. {"log_stellar_mass": '
        '{"factor": 2.0}}',
    )
    physics_tolerance: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = Field(
        default=None, description="largest allowed physics violation score (dimensionless)"
    )
    physics_steps: Annotated[int, Field(ge=0, le=100_000)] | None = None
    n_particles: Annotated[StrictInt, Field(ge=0, le=64)] = Field(
        default=0,
        description="stochastic-abduction particles per galaxy (0-64; images x particles "
        "<= 1024) for per-pixel uncertainty maps and property intervals",
    )
    expected_draws: Annotated[StrictInt, Field(ge=0, le=64)] = Field(
        default=0,
        description="0: the point answer (each galaxy keeps its branch, e.g. star-forming). "
        "N (1-64; images x (particles + draws) <= 1024): the expected answer E[x'|x], the "
        "mean image and properties over N midpoint draws of the exogenous noise the image "
        "does not identify (e.g. whether the galaxy would quench)",
    )
    all_or_nothing: StrictBool = Field(
        default=False,
        description="refuse the whole request when any galaxy is refused (default: only "
        "when every galaxy is; otherwise each galaxy has its own status)",
    )


class _RetrievalFields(_CounterfactualFields):
    """``retrieve_k`` and ``retrieve_filter``: what a request and a job share."""

    retrieve_k: Annotated[StrictInt, Field(ge=0, le=16)] = Field(
        default=0,
        description="list each galaxy's k nearest galaxies in the server's index (0-16, "
        "images x k <= 256), embedded by the served galaxy embedder; the retrieval "
        "refiner uses them when it fits (it never moves the physical properties)",
    )
    retrieve_filter: MetadataFilter | None = Field(
        default=None,
        description='metadata filter of the neighbours, e.g. {"redshift": {">=": 0.05, "<=": 0.1}}',
    )


class CounterfactualRequest(_RetrievalFields):
    """A counterfactual question: these images, had the named properties been these values."""


class JobSubmitRequest(_RetrievalFields):
    """A counterfactual question run as an asynchronous job."""

    shared: bool = Field(default=False, description="collaborators may read the result")


class GalaxyIntervention(BaseModel):
    """How one node was set, per galaxy: the form, its amount, the abducted value, the target."""

    kind: Literal["value", "shift", "factor"]
    amount: list[float | None]
    abducted: list[float | None] = Field(description="the galaxy's abducted value")
    target: list[float | None] = Field(description="the value the node was set to")


class Neighbour(BaseModel):
    """A retrieved neighbour of a galaxy: its index id, distance and metadata."""

    id: str
    distance: float
    metadata: dict[str, Any] = Field(default_factory=dict)


class Retrieval(BaseModel):
    """What retrieval did: whether the refiner used the neighbours, or why not."""

    k: int
    refined: bool = Field(description="the images were refined from the neighbours' features")
    refiner_version: str | None = Field(description="SHA-256 of the refiner, when one is installed")
    note: str
    embedder: str | None = Field(
        default=None, description="the embedder of the index (galaxy-embedder:<sha256>)"
    )
    metric: str | None = Field(default=None, description="the neighbours' distance: l2 or cosine")


class Uncertainty(BaseModel):
    """Counterfactual uncertainty from stochastic abduction with several particles."""

    n_particles: int
    image_std: TensorJSON = Field(
        description="per-pixel std over the particles, same units and shape as the images "
        "(NaN where fewer than two particles were accepted)"
    )
    intervals: dict[str, dict[str, list[float | None]]] = Field(
        description="property -> quantile (p2.5, p16, p50, p84, p97.5) -> per image"
    )
    accepted: list[int] = Field(description="per image, particles that passed the physics check")


class CounterfactualResponse(BaseModel):
    """The answer to a counterfactual question, with each galaxy's own outcome."""

    request_id: str
    counterfactual: TensorJSON = Field(description="images; NaN for a refused galaxy")
    confidence: list[float] = Field(description="per image, in [0, 1], from the posterior entropy")
    violation_score: list[float | None] = Field(
        description="per image, physics violation (dimensionless); null when not finite"
    )
    latency_ms: float = Field(description="server time spent, milliseconds")
    model_version: str = Field(description="SHA-256 of the model weights")
    factual_properties: dict[str, list[float | None]]
    counterfactual_properties: dict[str, list[float | None]] = Field(
        description="per image; null for a refused galaxy"
    )
    status: list[Literal["ok", "projected", "refused"]] = Field(
        default_factory=list, description="per image"
    )
    reason: list[str | None] = Field(
        default_factory=list, description="per image, why it was projected or refused"
    )
    expected_draws: int = Field(
        default=0,
        description="0: point answers; N: images and counterfactual properties are the "
        "mean over N draws of the unidentified exogenous noise (the expected answer)",
    )
    interventions: dict[str, GalaxyIntervention] = Field(default_factory=dict)
    uncertainty: Uncertainty | None = None
    neighbours: list[list[Neighbour]] = Field(
        default_factory=list,
        description="with retrieve_k: per image, its nearest galaxies in the index (id, "
        "distance, metadata), nearest first",
    )
    retrieval: Retrieval | None = None
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


class SearchRequest(_Strict):
    """k nearest neighbours of a query vector in the server's embedding index.

    The vectors are the served galaxy embedder's (:mod:`acie.serve.embedding_index`; the
    ``embedder`` and ``dim`` of any search answer): ingested datasets, catalogues built
    with ``acie index build`` and the images of finished jobs. You only find images you
    may read (your own; shared ones for collaborators; admins all).
    """

    vector: list[FiniteFloat] = Field(min_length=1, max_length=4096)
    k: Annotated[int, Field(ge=1, le=1000)] = 10
    filter: MetadataFilter | None = Field(
        default=None, description='metadata filter, e.g. {"log_stellar_mass": {">": 10}}'
    )


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
