"""Organizations: the registry's one aggregate, its hierarchy, contacts, search and import."""
