"""Pictures of galaxies: image grids and factual / counterfactual comparisons (matplotlib)."""

from __future__ import annotations

import numpy as np

__all__ = ["counterfactual_figure", "rgb_images"]


def rgb_images(images: np.ndarray, bands, *, stretch: float = 0.15, q: float = 10.0) -> np.ndarray:
    """Colour composites ``(n, H, W, 3)`` with the asinh stretch of Lupton et al. (2004).

    With g, r, i the channels are (i, r, g); with fewer bands the first band is shown grey.
    ``stretch`` and ``q`` are in nanomaggies/pixel and dimensionless, as in
    :func:`astropy.visualization.make_lupton_rgb`.
    """
    from astropy.visualization import make_lupton_rgb

    bands = tuple(bands)
    out = []
    for img in np.asarray(images, dtype=np.float64):
        if {"g", "r", "i"} <= set(bands):
            r, g, b = (img[bands.index(x)] for x in ("i", "r", "g"))
        else:
            r = g = b = img[bands.index("r") if "r" in bands else 0]
        out.append(make_lupton_rgb(r, g, b, stretch=stretch, Q=q))
    return np.stack(out)


def counterfactual_figure(
    factual,
    counterfactual,
    *,
    titles=("factual", "counterfactual"),
    extra=None,
    max_galaxies: int = 6,
    label: str = "",
):
    """A grid: one row per galaxy, columns factual / counterfactual (/ extra batches).

    Axes are in arcsec from the stamp centre. Returns a matplotlib Figure (no pyplot, no global backend);
    save it with ``fig.savefig(path, dpi=300)``.
    """
    from matplotlib.figure import Figure

    batches = [factual, counterfactual, *(extra or [])]
    n = min(len(factual), max_galaxies)
    size = factual.images.shape[-1] * factual.pixel_scale
    ext = [-size / 2, size / 2, -size / 2, size / 2]
    fig = Figure(figsize=(2.4 * len(batches), 2.4 * n), layout="constrained")
    axes = fig.subplots(n, len(batches), squeeze=False)
    rgbs = [rgb_images(b.images[:n], b.bands) for b in batches]
    for i in range(n):
        for j, (b, rgb) in enumerate(zip(batches, rgbs, strict=True)):
            ax = axes[i, j]
            ax.imshow(rgb[i], origin="lower", extent=ext)
            p = b.properties
            ax.set_title(
                f"{titles[j] if j < len(titles) else ''}\n"
                f"log M*={p['log_stellar_mass'][i]:.2f}, n={p['sersic_n'][i]:.1f}",
                fontsize=7,
            )
            ax.tick_params(labelsize=6)
            if i == n - 1:
                ax.set_xlabel("x [arcsec]", fontsize=7)
            if j == 0:
                ax.set_ylabel("y [arcsec]", fontsize=7)
    if label:
        fig.suptitle(label, fontsize=9)
    return fig
