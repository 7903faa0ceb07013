"""Operating the service: Prometheus metrics, request ids, JSON log lines."""
