"""The credential tests use, as any client would."""

from falcon import testing

TEST_TOKEN = "test-token-6f1c2a9e8b7d4c3f"
AUTHORIZATION = {"Authorization": f"Bearer {TEST_TOKEN}"}


def authenticated_client(app) -> testing.TestClient:
    """Falcon's test client, sending the test token with every request."""
    return testing.TestClient(app, headers=AUTHORIZATION)
