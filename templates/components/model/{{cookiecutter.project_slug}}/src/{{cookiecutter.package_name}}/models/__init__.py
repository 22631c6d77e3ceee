"""LightningModules added with ``plscaffold add model NAME``, one module each."""
