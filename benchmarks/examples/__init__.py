"""Example inputs for ``python -m benchmarks tune``."""
