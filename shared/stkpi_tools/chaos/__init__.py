"""Fault injection on the local stack: scenarios, the lab they run in, the soak."""
