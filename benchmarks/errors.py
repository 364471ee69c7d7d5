"""The benchmarks' own error: a user mistake on the command line, said with what to do."""


class BenchmarkError(Exception):
    """A benchmark cannot run as asked (e.g. a ``--baseline`` path that is not a checkout)."""
