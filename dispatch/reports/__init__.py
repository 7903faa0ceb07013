"""Supervisor KPIs: the queries (``kpis``), the HTTP API and CSV export (``api``), the benchmark (``bench``)."""
