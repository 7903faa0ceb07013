"""The live event stream: an in-process hub of per-user messages and the SSE endpoint that serves it."""
