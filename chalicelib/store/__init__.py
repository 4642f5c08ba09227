"""Persistence: the only package that knows the table's layout."""
