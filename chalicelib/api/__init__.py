"""HTTP blueprints, one per audience. Thin: parse, call one use case, respond."""
