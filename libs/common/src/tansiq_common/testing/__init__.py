"""Test support shared by every service's tests: real PostgreSQL databases, apps, processes."""
