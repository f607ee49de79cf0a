"""`make bench`: Podium's throughput, latency and memory, measured on this machine."""
