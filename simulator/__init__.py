"""A local simulator of the four provider APIs, for the demo, the tests and the benchmarks."""
