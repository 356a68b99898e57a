import pytest


@pytest.mark.django_db
def test_healthz(api):
    assert api.get("/healthz").json() == {"status": "ok"}
