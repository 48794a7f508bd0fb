"""Pure rules and values of the Export Responses service: no I/O, no frameworks."""
