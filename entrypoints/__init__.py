"""Entry points: the HTTP app (Falcon under gunicorn), the CLI, the composition root."""
