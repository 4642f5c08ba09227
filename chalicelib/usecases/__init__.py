"""Use cases: one function per thing a caller can do. They own the transactions."""
