"""The benchmark harness: the workloads of WORKLOADS.md and their runner (python -m benchmarks)."""
