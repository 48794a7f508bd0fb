"""The Export Responses benchmark: `bench/run` measures the service against Falcon's ceiling."""
