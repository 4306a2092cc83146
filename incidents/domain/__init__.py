"""The domain layer: operations on incidents and sources, apart from HTTP and templates."""
