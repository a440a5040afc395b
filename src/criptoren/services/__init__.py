"""Use cases. Services never commit: the request's unit of work does."""
