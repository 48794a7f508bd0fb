"""Fixtures that tests/ and features/ share: the test databases (a plugin, so that neither
tree imports fixtures from the other)."""

pytest_plugins = ["tests.databases"]
