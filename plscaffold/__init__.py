"""plscaffold: start and grow PyTorch Lightning projects from templates."""

__version__ = "0.1.0"

__all__ = ["__version__"]
