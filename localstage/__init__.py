"""The local stage: an embedded AWS endpoint (moto) and the API on loopback.

Development tooling only: nothing in the Lambda path imports this package.
"""
