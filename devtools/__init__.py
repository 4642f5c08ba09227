"""Developer tools that drive the running local stack (`make run`) over its HTTP API.

They live outside `chalicelib/` on purpose: `chalice package` ships `app.py` and
everything under `chalicelib/` to Lambda, and none of this belongs there (the
Lambda zip has a size budget, issue 12). They import nothing of the app: what
they do is what any client of the API could do, so they double as smoke tests
of it.
"""
