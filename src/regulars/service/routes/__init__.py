"""One router per resource: events, customers, segments, keys, health."""
