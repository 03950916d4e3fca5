"""Galaxy detail for the explorer: ``GET /v1/explorer/galaxy``, ``POST …/galaxy/counterfactual``.

A catalogue galaxy's image is re-rendered from the catalogue's recipe
(:mod:`acie.analysis.catalogue_galaxies`) with the camera the served model was trained
on, so the same ``(catalogue, id)`` always gives the same pixels. The counterfactual runs
through the server's inference core (admission, batching, timeout, physics check,
watermark) exactly like ``POST /v1/counterfactual``.

The uncertainty map
-------------------
The counterfactual is asked with ``n_particles`` stochastic abductions (default
:data:`DEFAULT_PARTICLES`, at most :data:`MAX_PARTICLES`; :mod:`acie.deepscm.particles`):
each particle draws the galaxy's properties and latent code from the model's posterior
``q(s|x)``, ``q(z|x,s)``, reproduces the observed image exactly and is then intervened
on and decoded. The map is the per-pixel standard deviation of the counterfactual image
over the particles the physics check accepted (image units), and ``intervals`` the
particles' 2.5/16/50/84/97.5 % quantiles of each counterfactual property. It is the
spread that the model's posterior implies, not an error of the model itself.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from acie.analysis.catalogue_galaxies import (
    catalogue_population,
    check_ids,
    model_camera,
    render_galaxies,
)
from acie.errors import PhysicsViolationError
from acie.serve.auth import Action, Principal
from acie.serve.deps import runtime_of
from acie.serve.http_errors import ERROR_RESPONSES
from acie.serve.sessions import require_session
from acie.wire.tensors import encode_b64

__all__ = ["DEFAULT_PARTICLES", "MAX_PARTICLES", "model_render", "router"]

router = APIRouter(prefix="/v1/explorer", responses=ERROR_RESPONSES, tags=["explorer"])

#: stochastic abductions behind the uncertainty map, by default and at most
DEFAULT_PARTICLES = 8
MAX_PARTICLES = 32
UNCERTAINTY_METHOD = (
    "per-pixel standard deviation of the counterfactual image over {n} stochastic "
    "abductions (posterior particles of the deep SCM) that passed the physics check"
)
_NUISANCE_KEYS = ("axis_ratio", "position_angle", "psf_fwhm", "redshift")


class Tensor(BaseModel):
    """A float32 array: ``shape``, ``dtype`` and base64 of its little-endian bytes."""

    shape: list[int]
    dtype: str
    data: str


class Intervenable(BaseModel):
    """A property a slider may set: its unit, accepted range and the galaxy's value."""

    name: str
    unit: str
    low: float
    high: float
    value: float
    descendants: list[str]


class GalaxyDetail(BaseModel):
    """One catalogue galaxy: properties, image and what can be intervened on."""

    catalogue: str
    id: int
    model_version: str
    properties: dict[str, float]
    units: dict[str, str]
    bands: list[str]
    pixel_scale_arcsec: float
    image_unit: str
    sky_sigma: list[float]
    image: Tensor
    intervenable: list[Intervenable]


class GalaxyCounterfactualRequest(BaseModel):
    """``do(interventions)`` on one catalogue galaxy."""

    model_config = ConfigDict(extra="forbid")

    catalogue: str = Field(min_length=1, max_length=64)
    id: int = Field(ge=0, le=2**32 - 1)
    interventions: dict[
        Annotated[str, Field(min_length=1, max_length=64)],
        Annotated[float, Field(allow_inf_nan=False)],
    ] = Field(max_length=16, description="property -> absolute value in its unit")
    physics_tolerance: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    n_particles: int = Field(
        default=DEFAULT_PARTICLES,
        ge=2,
        le=MAX_PARTICLES,
        description="stochastic abductions behind the uncertainty map",
    )


class GalaxyCounterfactual(BaseModel):
    """The galaxy's counterfactual with its difference and uncertainty images."""

    catalogue: str
    id: int
    model_version: str
    interventions: dict[str, float]
    image: Tensor
    counterfactual: Tensor
    difference: Tensor
    uncertainty: Tensor
    uncertainty_method: str
    n_particles: int
    particles_accepted: int
    intervals: dict[str, dict[str, float]]
    factual_properties: dict[str, float]
    counterfactual_properties: dict[str, float]
    violation_score: float
    confidence: float
    projected: bool
    latency_ms: float


def _tensor(array: np.ndarray) -> Tensor:
    return Tensor.model_validate(encode_b64(array))


def model_render(model: Any) -> dict[str, Any]:
    """Render settings giving ``model`` the images it was trained on."""
    return model_camera(getattr(model, "metadata", None) or {}, model.image_shape)


def _row(catalogue: str, galaxy: int) -> tuple[Any, int]:
    population = catalogue_population(catalogue)
    return population, int(check_ids([galaxy], len(population), catalogue=catalogue)[0])


@router.get("/galaxy", response_model=GalaxyDetail, summary="one galaxy: properties and image")
def galaxy(
    request: Request,
    catalogue: Annotated[str, Query(min_length=1, max_length=64)],
    id: Annotated[int, Query(ge=0, le=2**32 - 1, description="galaxy id (row)")],
    _p: Principal = Depends(require_session(Action.read)),
) -> GalaxyDetail:
    from acie.galaxy.properties import NUISANCE_UNITS, RANGES, UNITS, descendants

    rt = runtime_of(request)
    camera = model_render(rt.model)
    population, row = _row(catalogue, id)
    image = render_galaxies(catalogue, [row], render=camera)[0]
    props = {k: float(v[row]) for k, v in population.properties.items()}
    nuis = {k: float(population.nuisances[k][row]) for k in _NUISANCE_KEYS}
    sky = {**population.simulator["sky_sigma"], **camera.get("sky_sigma", {})}
    return GalaxyDetail(
        catalogue=catalogue,
        id=row,
        model_version=rt.model_version,
        properties={**props, **nuis},
        units={**{k: UNITS[k] for k in props}, **{k: NUISANCE_UNITS[k] for k in nuis}},
        bands=list(camera["bands"]),
        pixel_scale_arcsec=float(camera.get("pixel_scale", population.simulator["pixel_scale"])),
        image_unit="nmgy / pixel",
        sky_sigma=[float(sky[b]) for b in camera["bands"]],
        image=_tensor(image),
        intervenable=[
            Intervenable(
                name=name,
                unit=UNITS[name],
                low=RANGES[name].low,
                high=RANGES[name].high,
                value=props[name],
                descendants=[d for d in descendants((name,)) if d != name],
            )
            for name in rt.model.property_names
            if name in RANGES and name in props
        ],
    )


@router.post(
    "/galaxy/counterfactual",
    response_model=GalaxyCounterfactual,
    summary="a catalogue galaxy under do(...): counterfactual, difference, uncertainty",
)
def galaxy_counterfactual(
    body: GalaxyCounterfactualRequest,
    request: Request,
    principal: Principal = Depends(require_session(Action.submit)),
) -> GalaxyCounterfactual:
    rt = runtime_of(request)
    t0 = time.perf_counter()
    camera = model_render(rt.model)
    _, row = _row(body.catalogue, body.id)
    image = render_galaxies(body.catalogue, [row], render=camera)
    call = rt.core.validate(
        request_id=f"explorer-galaxy-{uuid.uuid4()}",
        observation=image,
        interventions=body.interventions,
        physics_tolerance=body.physics_tolerance,
        physics_steps=None,
        n_particles=body.n_particles,
        all_or_nothing=True,
    )
    result = rt.core.infer(principal.subject, call)
    score = float(np.atleast_1d(np.asarray(result.violation_score, dtype=np.float64))[0])
    status = getattr(result, "status", None)
    if status is not None and str(np.atleast_1d(status)[0]) == "refused":
        raise PhysicsViolationError(  # all_or_nothing raises first; this is the backstop
            f"the counterfactual of galaxy {row} violates the physics constraints: score "
            f"{score:.3g} is above the tolerance after the projection",
            score=score,
            tolerance=body.physics_tolerance,
        )
    cf = np.asarray(result.images, dtype=np.float32).reshape(image.shape)
    change = cf - image
    spread = result.uncertainty
    return GalaxyCounterfactual(
        catalogue=body.catalogue,
        id=row,
        model_version=str(result.model_version),
        interventions=dict(body.interventions),
        image=_tensor(image[0]),
        counterfactual=_tensor(cf[0]),
        difference=_tensor(change[0]),
        uncertainty=_tensor(np.asarray(spread.image_std, dtype=np.float32)[0]),
        uncertainty_method=UNCERTAINTY_METHOD.format(n=body.n_particles),
        n_particles=int(spread.n_particles),
        particles_accepted=int(np.atleast_1d(spread.accepted)[0]),
        intervals={
            k: {q: float(np.atleast_1d(v)[0]) for q, v in d.items()}
            for k, d in spread.intervals.items()
        },
        factual_properties={
            k: float(np.atleast_1d(v)[0]) for k, v in result.factual_properties.items()
        },
        counterfactual_properties={
            k: float(np.atleast_1d(v)[0]) for k, v in result.counterfactual_properties.items()
        },
        violation_score=score,
        confidence=float(np.atleast_1d(result.confidence)[0]),
        projected=bool(np.atleast_1d(getattr(result, "projected", False))[0]),
        latency_ms=(time.perf_counter() - t0) * 1e3,
    )
