import pytest

from accounts.api import MeDocumented
from tests.actors import client_for

pytestmark = pytest.mark.django_db


def test_me_answers_exactly_the_documented_fields(patient, physician):
    documented = set(MeDocumented().fields)
    assert set(client_for(patient).get("/api/me").json()) == documented - {"physician"}
    assert set(client_for(physician.user).get("/api/me").json()) == documented
