from django.urls import path

from notifications import api

urlpatterns = [
    path("preferences", api.PreferencesView.as_view(), name="notification-preferences"),
    path("messages", api.MessageListView.as_view(), name="notification-messages"),
    path("twilio/inbound", api.TwilioInboundView.as_view(), name="twilio-inbound"),
    path("twilio/status", api.TwilioStatusView.as_view(), name="twilio-status"),
]
