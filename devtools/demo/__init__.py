"""`make demo`: a café chain's members and their few months, made in the running
local stack through its HTTP API (see `__main__.py` and docs/local-stage.md)."""
