from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Tensor(_message.Message):
    __slots__ = ("shape", "dtype", "data")
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    shape: _containers.RepeatedScalarFieldContainer[int]
    dtype: str
    data: bytes
    def __init__(self, shape: _Optional[_Iterable[int]] = ..., dtype: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class Intervention(_message.Message):
    __slots__ = ("value", "shift", "factor")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    SHIFT_FIELD_NUMBER: _ClassVar[int]
    FACTOR_FIELD_NUMBER: _ClassVar[int]
    value: float
    shift: float
    factor: float
    def __init__(self, value: _Optional[float] = ..., shift: _Optional[float] = ..., factor: _Optional[float] = ...) -> None: ...

class CounterfactualRequest(_message.Message):
    __slots__ = ("request_id", "observation", "interventions", "physics_tolerance", "physics_steps", "intervention_specs", "n_particles", "all_or_nothing", "retrieve_k", "retrieve_filter_json", "expected_draws")
    class InterventionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class InterventionSpecsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Intervention
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Intervention, _Mapping]] = ...) -> None: ...
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    OBSERVATION_FIELD_NUMBER: _ClassVar[int]
    INTERVENTIONS_FIELD_NUMBER: _ClassVar[int]
    PHYSICS_TOLERANCE_FIELD_NUMBER: _ClassVar[int]
    PHYSICS_STEPS_FIELD_NUMBER: _ClassVar[int]
    INTERVENTION_SPECS_FIELD_NUMBER: _ClassVar[int]
    N_PARTICLES_FIELD_NUMBER: _ClassVar[int]
    ALL_OR_NOTHING_FIELD_NUMBER: _ClassVar[int]
    RETRIEVE_K_FIELD_NUMBER: _ClassVar[int]
    RETRIEVE_FILTER_JSON_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_DRAWS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    observation: Tensor
    interventions: _containers.ScalarMap[str, float]
    physics_tolerance: float
    physics_steps: int
    intervention_specs: _containers.MessageMap[str, Intervention]
    n_particles: int
    all_or_nothing: bool
    retrieve_k: int
    retrieve_filter_json: str
    expected_draws: int
    def __init__(self, request_id: _Optional[str] = ..., observation: _Optional[_Union[Tensor, _Mapping]] = ..., interventions: _Optional[_Mapping[str, float]] = ..., physics_tolerance: _Optional[float] = ..., physics_steps: _Optional[int] = ..., intervention_specs: _Optional[_Mapping[str, Intervention]] = ..., n_particles: _Optional[int] = ..., all_or_nothing: _Optional[bool] = ..., retrieve_k: _Optional[int] = ..., retrieve_filter_json: _Optional[str] = ..., expected_draws: _Optional[int] = ...) -> None: ...

class Neighbour(_message.Message):
    __slots__ = ("id", "distance", "metadata_json")
    ID_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    id: str
    distance: float
    metadata_json: str
    def __init__(self, id: _Optional[str] = ..., distance: _Optional[float] = ..., metadata_json: _Optional[str] = ...) -> None: ...

class Status(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class Quantiles(_message.Message):
    __slots__ = ("values",)
    class ValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.ScalarMap[str, float]
    def __init__(self, values: _Optional[_Mapping[str, float]] = ...) -> None: ...

class GalaxyOutcome(_message.Message):
    __slots__ = ("status", "reason", "violation_score", "factual_properties", "counterfactual_properties", "targets", "intervals", "particles_accepted", "neighbours")
    class FactualPropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class CounterfactualPropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class TargetsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class IntervalsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Quantiles
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Quantiles, _Mapping]] = ...) -> None: ...
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    VIOLATION_SCORE_FIELD_NUMBER: _ClassVar[int]
    FACTUAL_PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    COUNTERFACTUAL_PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    INTERVALS_FIELD_NUMBER: _ClassVar[int]
    PARTICLES_ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    NEIGHBOURS_FIELD_NUMBER: _ClassVar[int]
    status: str
    reason: str
    violation_score: float
    factual_properties: _containers.ScalarMap[str, float]
    counterfactual_properties: _containers.ScalarMap[str, float]
    targets: _containers.ScalarMap[str, float]
    intervals: _containers.MessageMap[str, Quantiles]
    particles_accepted: int
    neighbours: _containers.RepeatedCompositeFieldContainer[Neighbour]
    def __init__(self, status: _Optional[str] = ..., reason: _Optional[str] = ..., violation_score: _Optional[float] = ..., factual_properties: _Optional[_Mapping[str, float]] = ..., counterfactual_properties: _Optional[_Mapping[str, float]] = ..., targets: _Optional[_Mapping[str, float]] = ..., intervals: _Optional[_Mapping[str, Quantiles]] = ..., particles_accepted: _Optional[int] = ..., neighbours: _Optional[_Iterable[_Union[Neighbour, _Mapping]]] = ...) -> None: ...

class CounterfactualResponse(_message.Message):
    __slots__ = ("request_id", "counterfactual", "confidence", "latency_ms", "violation_score", "model_version", "factual_properties_mean", "counterfactual_properties_mean", "status", "trace_id", "galaxies", "uncertainty", "n_particles", "refined", "refiner_version", "retrieval_note", "retrieval_embedder", "retrieval_metric", "expected_draws")
    class FactualPropertiesMeanEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class CounterfactualPropertiesMeanEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    COUNTERFACTUAL_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    VIOLATION_SCORE_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    FACTUAL_PROPERTIES_MEAN_FIELD_NUMBER: _ClassVar[int]
    COUNTERFACTUAL_PROPERTIES_MEAN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    GALAXIES_FIELD_NUMBER: _ClassVar[int]
    UNCERTAINTY_FIELD_NUMBER: _ClassVar[int]
    N_PARTICLES_FIELD_NUMBER: _ClassVar[int]
    REFINED_FIELD_NUMBER: _ClassVar[int]
    REFINER_VERSION_FIELD_NUMBER: _ClassVar[int]
    RETRIEVAL_NOTE_FIELD_NUMBER: _ClassVar[int]
    RETRIEVAL_EMBEDDER_FIELD_NUMBER: _ClassVar[int]
    RETRIEVAL_METRIC_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_DRAWS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    counterfactual: Tensor
    confidence: _containers.RepeatedScalarFieldContainer[float]
    latency_ms: float
    violation_score: _containers.RepeatedScalarFieldContainer[float]
    model_version: str
    factual_properties_mean: _containers.ScalarMap[str, float]
    counterfactual_properties_mean: _containers.ScalarMap[str, float]
    status: Status
    trace_id: str
    galaxies: _containers.RepeatedCompositeFieldContainer[GalaxyOutcome]
    uncertainty: Tensor
    n_particles: int
    refined: bool
    refiner_version: str
    retrieval_note: str
    retrieval_embedder: str
    retrieval_metric: str
    expected_draws: int
    def __init__(self, request_id: _Optional[str] = ..., counterfactual: _Optional[_Union[Tensor, _Mapping]] = ..., confidence: _Optional[_Iterable[float]] = ..., latency_ms: _Optional[float] = ..., violation_score: _Optional[_Iterable[float]] = ..., model_version: _Optional[str] = ..., factual_properties_mean: _Optional[_Mapping[str, float]] = ..., counterfactual_properties_mean: _Optional[_Mapping[str, float]] = ..., status: _Optional[_Union[Status, _Mapping]] = ..., trace_id: _Optional[str] = ..., galaxies: _Optional[_Iterable[_Union[GalaxyOutcome, _Mapping]]] = ..., uncertainty: _Optional[_Union[Tensor, _Mapping]] = ..., n_particles: _Optional[int] = ..., refined: _Optional[bool] = ..., refiner_version: _Optional[str] = ..., retrieval_note: _Optional[str] = ..., retrieval_embedder: _Optional[str] = ..., retrieval_metric: _Optional[str] = ..., expected_draws: _Optional[int] = ...) -> None: ...

class SearchRequest(_message.Message):
    __slots__ = ("vector", "image", "embedder", "k", "filter_json")
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    EMBEDDER_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    FILTER_JSON_FIELD_NUMBER: _ClassVar[int]
    vector: _containers.RepeatedScalarFieldContainer[float]
    image: Tensor
    embedder: str
    k: int
    filter_json: str
    def __init__(self, vector: _Optional[_Iterable[float]] = ..., image: _Optional[_Union[Tensor, _Mapping]] = ..., embedder: _Optional[str] = ..., k: _Optional[int] = ..., filter_json: _Optional[str] = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ("hits", "embedder", "dim", "metric")
    HITS_FIELD_NUMBER: _ClassVar[int]
    EMBEDDER_FIELD_NUMBER: _ClassVar[int]
    DIM_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[Neighbour]
    embedder: str
    dim: int
    metric: str
    def __init__(self, hits: _Optional[_Iterable[_Union[Neighbour, _Mapping]]] = ..., embedder: _Optional[str] = ..., dim: _Optional[int] = ..., metric: _Optional[str] = ...) -> None: ...

class HealthCheckRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class HealthCheckResponse(_message.Message):
    __slots__ = ("status", "gpu_count", "model_version", "queue_depth")
    class ServingStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNKNOWN: _ClassVar[HealthCheckResponse.ServingStatus]
        SERVING: _ClassVar[HealthCheckResponse.ServingStatus]
        NOT_SERVING: _ClassVar[HealthCheckResponse.ServingStatus]
    UNKNOWN: HealthCheckResponse.ServingStatus
    SERVING: HealthCheckResponse.ServingStatus
    NOT_SERVING: HealthCheckResponse.ServingStatus
    STATUS_FIELD_NUMBER: _ClassVar[int]
    GPU_COUNT_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    QUEUE_DEPTH_FIELD_NUMBER: _ClassVar[int]
    status: HealthCheckResponse.ServingStatus
    gpu_count: int
    model_version: str
    queue_depth: int
    def __init__(self, status: _Optional[_Union[HealthCheckResponse.ServingStatus, str]] = ..., gpu_count: _Optional[int] = ..., model_version: _Optional[str] = ..., queue_depth: _Optional[int] = ...) -> None: ...

class BlindSessionRequest(_message.Message):
    __slots__ = ("request_id", "session_json")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_JSON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    session_json: str
    def __init__(self, request_id: _Optional[str] = ..., session_json: _Optional[str] = ...) -> None: ...

class BlindRoundRequest(_message.Message):
    __slots__ = ("request_id", "session_id", "round_json")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    ROUND_JSON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    session_id: str
    round_json: str
    def __init__(self, request_id: _Optional[str] = ..., session_id: _Optional[str] = ..., round_json: _Optional[str] = ...) -> None: ...

class BlindRoundResponse(_message.Message):
    __slots__ = ("request_id", "session_id", "round", "rounds", "done", "output_json", "model_version")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    ROUNDS_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_JSON_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    session_id: str
    round: int
    rounds: int
    done: bool
    output_json: str
    model_version: str
    def __init__(self, request_id: _Optional[str] = ..., session_id: _Optional[str] = ..., round: _Optional[int] = ..., rounds: _Optional[int] = ..., done: _Optional[bool] = ..., output_json: _Optional[str] = ..., model_version: _Optional[str] = ...) -> None: ...
