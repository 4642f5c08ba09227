"""Request bodies (pydantic, validated at the HTTP boundary) and response views: the HTTP
contract's models, next to the routes. Use cases take the bodies and build the views (an
idempotent write stores its answer with its effect), so they sit below the use cases' layer
(import-linter: .importlinter)."""
