"""pytest fixtures for kafka; loaded by the plugin list in pyproject.toml."""
