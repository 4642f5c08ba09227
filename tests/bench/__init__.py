"""`make bench`: DynamoDB round trips per request, cold start, package size.

A benchmark script (`python -m tests.bench.run`), not a test suite: nothing
here is collected by pytest.
"""
