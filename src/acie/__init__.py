"""ACIE: the Astrophysical Counterfactual Inference Engine and the Dark Matter Causal Analyzer.

Subpackages are imported lazily: ``import acie`` is cheap and loads no heavy dependency.
"""

from importlib.metadata import PackageNotFoundError, version

from acie.errors import AcieError

try:
    __version__ = version("acie")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["AcieError", "__version__"]
