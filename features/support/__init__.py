"""What the feature steps stand on: the HTTP client and the database rows."""
