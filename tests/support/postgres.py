"""The tests' throw-away PostgreSQL cluster: the one the benchmarks start too."""

from dispatch.benchmarks.pgcluster import PostgresUnavailable, TempPostgres, find_bindir

__all__ = ["PostgresUnavailable", "TempPostgres", "find_bindir"]
