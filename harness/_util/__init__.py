"""Infrastructure with no domain knowledge: event loop, processes, timings, hashing, safe names, logs."""
