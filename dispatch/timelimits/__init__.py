"""Time limits: the working-day calendar, SLA limits per item and priority, deadlines and the
escalation ladder. Orders and the tracking loop both build on it; it imports no other domain package."""
