"""The ``ingot`` command line: the only place that reads argv, the environment and files."""
