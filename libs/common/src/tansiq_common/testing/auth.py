"""pytest fixtures for auth; loaded by the plugin list in pyproject.toml."""
