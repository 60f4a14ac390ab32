from integration.conftest import harness, stack  # noqa: F401  (the same local stack)
