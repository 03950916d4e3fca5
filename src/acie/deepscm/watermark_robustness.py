"""Measured robustness of the generated-image watermark to what people do to images.

:func:`measure_rates` in :mod:`acie.deepscm.watermark` measures the false-positive rate
and detection under added Gaussian noise. :func:`measure_robustness` measures, on the
same images, detection *and* false-positive rate after each of these edits (the edit is
applied to the marked images and, independently, to the unmarked ones):

- ``noise``: Gaussian noise of ``a`` times the band's sky sigma per pixel;
- ``scale``: the image multiplied by a positive factor (a flux recalibration). The
  matched-filter score is a ratio of two quantities linear in the image, so it is
  unchanged by a positive factor (a negative one flips its sign);
- ``sky``: a constant ``o`` times the band's sky sigma added (a sky-level error). It
  changes only the zero-frequency coefficient, which is outside the marked annulus;
- ``crop``: a central ``c x c`` crop, detected two ways. ``own grid``: the crop scored
  as an image of its own size, i.e. against the key's pattern for a ``c x c`` grid,
  which is a different pattern (the mark is not expected to be found); ``original grid``:
  the crop high-passed (minus its Gaussian blur of ``HIGHPASS_SIGMA`` pixels, which keeps
  more than 99 % of the mark at >= 0.25 cycles/pixel but removes the galaxy light whose
  cut-off edges would otherwise leak power into the marked frequencies and swamp the
  normalisation), put back at its (known, central) place in a zero image of the original
  size and scored against the original pattern. The second needs the crop's offset; an
  unknown offset would need a search over offsets (more false positives), not done here;
- ``rot90`` and ``flip`` (left-right): scored plainly and with a search over the eight
  rotations/reflections of the square (:func:`dihedral_scores`): the image is called
  marked when any of the eight un-rotated versions scores above the threshold, which
  multiplies the nominal false-positive rate by at most 8.

Every rate is a fraction of the given images; the rows carry the median score.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from acie.deepscm.watermark import Watermark
from acie.errors import OutOfRangeError, ShapeError, expected_got

__all__ = [
    "RobustnessRow",
    "center_crop",
    "dihedral_scores",
    "highpass",
    "measure_robustness",
    "place_on_grid",
    "robustness_table",
]

Edit = Callable[[np.ndarray], np.ndarray]


def center_crop(images: np.ndarray, size: int) -> np.ndarray:
    """Central ``size x size`` crop of (n, C, H, W) images (offset ``(H - size) // 2``)."""
    x = Watermark._as4d(images)
    h, w = x.shape[2], x.shape[3]
    if not 0 < size <= min(h, w):
        raise ShapeError(expected_got("crop size", f"1..{min(h, w)}", size))
    oy, ox = (h - size) // 2, (w - size) // 2
    return x[:, :, oy : oy + size, ox : ox + size]


HIGHPASS_SIGMA = 2.0  # pixels; transfer exp(-2 pi^2 s^2 f^2) = 0.007 at f = 0.25


def highpass(images: np.ndarray, sigma: float = HIGHPASS_SIGMA) -> np.ndarray:
    """Images (n, C, H, W) minus their Gaussian blur of ``sigma`` pixels (reflecting edges)."""
    from scipy.ndimage import gaussian_filter

    x = Watermark._as4d(images).astype(np.float64)
    return x - gaussian_filter(x, sigma=(0, 0, sigma, sigma), mode="reflect")


def place_on_grid(crops: np.ndarray, h: int, w: int) -> np.ndarray:
    """Put central crops (n, C, c, c) back at their place in zero images (n, C, h, w)."""
    x = Watermark._as4d(crops)
    ch, cw = x.shape[2], x.shape[3]
    if ch > h or cw > w:
        raise ShapeError(expected_got("crop no larger than the grid", f"<= ({h}, {w})", x.shape))
    oy, ox = (h - ch) // 2, (w - cw) // 2
    out = np.zeros((x.shape[0], x.shape[1], h, w), dtype=np.float64)
    out[:, :, oy : oy + ch, ox : ox + cw] = x
    return out


def _dihedral(x: np.ndarray) -> list[np.ndarray]:
    """The eight rotations/reflections of square images (n, C, H, H) in the last axes."""
    rots = [np.rot90(x, k, axes=(2, 3)) for k in range(4)]
    return rots + [np.flip(r, axis=3) for r in rots]


def dihedral_scores(watermark: Watermark, images: np.ndarray) -> np.ndarray:
    """Scores (n, 8) of the eight rotated/reflected versions of square images."""
    x = Watermark._as4d(images)
    if x.shape[2] != x.shape[3]:
        raise ShapeError(expected_got("square images", "H == W", x.shape))
    return np.stack([watermark.score(np.ascontiguousarray(v)) for v in _dihedral(x)], axis=1)


def _scale(f: float) -> Edit:
    if not f > 0:
        raise OutOfRangeError(expected_got("flux scale factor", "> 0", f))
    return lambda v: f * v


def _crop(size: int) -> Edit:
    return lambda v: center_crop(v, size)


@dataclass(frozen=True)
class RobustnessRow:
    """Detection and false-positive rate after one edit, with one detector."""

    edit: str  # e.g. "scale x0.5", "crop 48x48"
    detector: str  # "plain", "own grid", "original grid", "dihedral search"
    detection_rate: float  # marked images still called marked
    false_positive_rate: float  # unmarked images (same edit) called marked
    median_score: float  # of the marked images

    def to_dict(self) -> dict[str, object]:
        """JSON-ready fields."""
        return {
            "edit": self.edit,
            "detector": self.detector,
            "detection_rate": self.detection_rate,
            "false_positive_rate": self.false_positive_rate,
            "median_score": self.median_score,
        }


def measure_robustness(
    watermark: Watermark,
    images: np.ndarray,
    noise_sigma: float | Sequence[float] | np.ndarray,
    *,
    noise_levels: Sequence[float] = (0.0, 1.0, 2.0, 4.0, 8.0),
    scales: Sequence[float] = (0.5, 0.8, 1.25, 2.0),
    sky_offsets: Sequence[float] = (1.0, 10.0),
    crops: Sequence[int] = (56, 48, 32),
    seed: int = 0,
) -> list[RobustnessRow]:
    """Detection and false-positive rates of ``watermark`` after each edit (module doc).

    Parameters
    ----------
    images : ndarray
        Unmarked images (n, C, H, W) in image units; they are marked here with
        ``watermark.embed(images, noise_sigma)``.
    noise_sigma : float or sequence of float
        Per-band sky-noise sigma [image units]; noise levels and sky offsets are in it.
    seed : int
        Seeds the added noise (marked and unmarked images get independent draws).
    """
    x = Watermark._as4d(images).astype(np.float64)
    _, c, h, w = x.shape
    sig = np.broadcast_to(np.asarray(noise_sigma, dtype=np.float64), (c,))[None, :, None, None]
    marked = watermark.embed(x, sig.ravel()).astype(np.float64)
    rng = np.random.default_rng(seed)
    thr = watermark.threshold

    def plain(v: np.ndarray) -> np.ndarray:
        return watermark.score(v)

    def dihedral(v: np.ndarray) -> np.ndarray:
        return dihedral_scores(watermark, v).max(axis=1)

    def grid(v: np.ndarray) -> np.ndarray:
        return watermark.score(place_on_grid(highpass(v), h, w))

    rows: list[RobustnessRow] = []

    def row(
        edit: str,
        detector: str,
        fn: Callable[[np.ndarray], np.ndarray],
        score: Callable[[np.ndarray], np.ndarray],
    ) -> None:
        s_marked = score(fn(marked))
        s_clean = score(fn(x))
        rows.append(
            RobustnessRow(
                edit=edit,
                detector=detector,
                detection_rate=float(np.mean(s_marked > thr)),
                false_positive_rate=float(np.mean(s_clean > thr)),
                median_score=float(np.median(s_marked)),
            )
        )

    def noise(a: float) -> Edit:
        return lambda v: v + a * sig * rng.standard_normal(v.shape)

    def sky(o: float) -> Edit:
        return lambda v: v + o * sig

    for a in noise_levels:
        row(f"noise {a:g} sigma", "plain", noise(float(a)), plain)
    for f in scales:
        row(f"scale x{f:g}", "plain", _scale(float(f)), plain)
    for o in sky_offsets:
        row(f"sky {o:+g} sigma", "plain", sky(float(o)), plain)
    for size in crops:
        row(f"crop {size}x{size}", "own grid", _crop(int(size)), plain)
        row(f"crop {size}x{size}", "original grid", _crop(int(size)), grid)
    if h == w:
        edits: dict[str, Edit] = {
            "rot90": lambda v: np.rot90(v, 1, axes=(2, 3)),
            "flip": lambda v: v[:, :, :, ::-1],
        }
        for name, fn in edits.items():
            row(name, "plain", fn, plain)
            row(name, "dihedral search", fn, dihedral)
        row("none", "dihedral search", lambda v: v, dihedral)
    return rows


def robustness_table(columns: dict[str, list[RobustnessRow]]) -> str:
    """Markdown table: per (edit, detector) and column, detection / FP (median score)."""
    names = list(columns)
    head = "| edit | detector | " + " | ".join(f"{k}: detected / FP (score)" for k in names)
    head += " |"
    lines = [head, "| --- | --- |" + " --- |" * len(names)]
    first = columns[names[0]]
    for i, r in enumerate(first):
        cells = [
            f"{columns[k][i].detection_rate:.3g} / {columns[k][i].false_positive_rate:.3g}"
            f" ({columns[k][i].median_score:.1f})"
            for k in names
        ]
        lines.append(f"| {r.edit} | {r.detector} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def measure_default_model(
    *, n: int = 200, seed: int = 12345, key: int = 16
) -> dict[str, list[RobustnessRow]]:
    """Robustness rows for ``n`` simulated galaxies and ``n`` of the shipped model's outputs.

    Galaxies are simulated with ``seed`` (held out from training). The generated images
    are the shipped model's counterfactuals under do(M* x 2) (``{"shift": log10 2}`` dex
    on each galaxy's abducted stellar mass; a null intervention would return the input
    itself), watermark off, galaxies the engine refuses left out (more are simulated to
    make up ``n``). Both sets are marked here with ``Watermark(key=key)``, a fixed key so
    the numbers are reproducible.
    """
    from acie.deepscm.engine import load_default_model
    from acie.galaxy.simulator import GalaxySimulator

    engine = load_default_model(watermark=Watermark(key=key))
    sim = GalaxySimulator(image_size=engine.image_shape[1])
    x = np.asarray(sim.sample(2 * n, seed=seed).images, dtype=np.float64)
    do = {"log_stellar_mass": {"shift": float(np.log10(2.0))}}
    res = engine.counterfactual(x, do, watermark=False, per_galaxy=True)
    ok = np.asarray(res.status) != "refused"
    generated = np.asarray(res.images, np.float64)[ok][:n]
    if generated.shape[0] < n:
        raise OutOfRangeError(expected_got("non-refused counterfactuals", f">= {n}", ok.sum()))
    x = x[:n]
    mark, sigma = engine.watermark, engine.noise_sigma
    return {
        "simulated": measure_robustness(mark, x, sigma, seed=seed),
        "generated": measure_robustness(mark, generated, sigma, seed=seed + 1),
    }


if __name__ == "__main__":  # python -m acie.deepscm.watermark_robustness [N]
    import sys

    columns = measure_default_model(n=int(sys.argv[1]) if len(sys.argv) > 1 else 200)
    print(robustness_table(columns))
