"""Adapters: the ports of `application` implemented on real and in-memory infrastructure."""
