"""IPMI 2.0 lanplus protocol code over pyghmi: knows BMCs, not nodes or tasks."""
