"""Agreements: the aggregate, its tables, use cases, queries and HTTP API."""
