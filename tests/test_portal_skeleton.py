from portal import create_app
from pricehawk.settings import load_settings


def test_healthz() -> None:
    client = create_app(load_settings({})).test_client()
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}
