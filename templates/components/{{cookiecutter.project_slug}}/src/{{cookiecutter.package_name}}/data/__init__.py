"""LightningDataModules added with ``plscaffold add datamodule NAME``, one module each."""
