"""LightningModules added with ``plscaffold add model NAME --kind gan``, one module each."""
