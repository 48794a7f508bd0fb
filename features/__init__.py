"""Gherkin features of the Export Responses service, run by pytest-bdd."""
