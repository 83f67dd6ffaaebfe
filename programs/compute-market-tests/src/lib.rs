//! Tests and the compute-unit benchmark of the `compute-market` program live in `tests/` and
//! `examples/`; this library is empty.
