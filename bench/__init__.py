"""The load benchmark: closed-loop simulated users against a Bot API stand-in (see README.md)."""
