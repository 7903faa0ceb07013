"""Calls: storing telephony events, screen pops, live events, the calls API."""
