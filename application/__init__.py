"""Use cases of the Export Responses service and the ports they need."""
