from billing import api

urlpatterns = api.urlpatterns
