"""Bare echo bots the benchmark measures Jol against."""
