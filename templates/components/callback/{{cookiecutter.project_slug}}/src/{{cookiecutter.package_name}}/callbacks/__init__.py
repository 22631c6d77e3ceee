"""Callbacks added with ``plscaffold add callback NAME``, one module each."""
