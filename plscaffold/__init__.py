"""plscaffold: start and grow PyTorch Lightning projects from templates."""

__version__ = "1.1.1"

__all__ = ["__version__"]
