"""Anonymous statistics and chat-language memory: counters by day, never who asked."""
