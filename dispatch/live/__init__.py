"""The live event stream: per-user messages on a bus (in memory, or PostgreSQL across processes)
and the SSE endpoint that serves them."""
