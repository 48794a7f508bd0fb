"""The Falcon HTTP adapter: parsing at the edge, rendering of CommandResults."""
