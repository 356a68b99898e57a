from django.urls import URLPattern

# Each resource's module (scheduling/api/*.py) adds its routes here.
urlpatterns: list[URLPattern] = []
