"""CCD (HMCTS Core Case Data) over HTTP: the gateway, its settings, a rate limiter and a fake CCD."""
