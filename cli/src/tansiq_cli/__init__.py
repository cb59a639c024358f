"""`tansiq`: operator commands (serve, migrate, token, seed, replay, topics, import)."""
