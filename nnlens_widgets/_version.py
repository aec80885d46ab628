"""The package's version, read from its installed metadata (pyproject.toml is where it is written).

A leaf module: any layer may import it without importing the package's others.
"""
from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("nnlens_widgets")
except PackageNotFoundError:  # pragma: no cover - running from a checkout that was never installed
    __version__ = "0+unknown"
