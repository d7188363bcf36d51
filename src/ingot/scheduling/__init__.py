"""Scheduling: which nodes fit a request (resource class, traits, capabilities, owner), why
the others do not, and claiming one for an allocation without racing other allocations."""
