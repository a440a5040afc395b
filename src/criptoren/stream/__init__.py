"""The push stream: per-connection buffers, price coalescing and the event port."""
