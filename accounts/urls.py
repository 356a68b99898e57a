from django.urls import path

from accounts import api, staff_api

urlpatterns = [
    path("auth/register", api.RegisterView.as_view(), name="auth-register"),
    path("auth/email/verify", api.EmailVerifyView.as_view(), name="email-verify"),
    path(
        "auth/email/verify/resend",
        api.EmailVerifyResendView.as_view(),
        name="email-verify-resend",
    ),
    path("auth/password/change", api.PasswordChangeView.as_view(), name="password-change"),
    path("auth/password/reset", api.PasswordResetView.as_view(), name="password-reset"),
    path(
        "auth/password/reset/confirm",
        api.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path("auth/login", api.LoginView.as_view(), name="auth-login"),
    path("auth/refresh", api.RefreshView.as_view(), name="auth-refresh"),
    path("auth/logout", api.LogoutView.as_view(), name="auth-logout"),
    path("auth/mfa/enroll", api.MfaEnrollView.as_view(), name="mfa-enroll"),
    path("auth/mfa/enroll/confirm", api.MfaConfirmView.as_view(), name="mfa-enroll-confirm"),
    path("auth/mfa/verify", api.MfaVerifyView.as_view(), name="mfa-verify"),
    path("me", api.MeView.as_view(), name="me"),
    path("staff/invitations", staff_api.StaffInvitationView.as_view(), name="staff-invite"),
    path(
        "staff/<uuid:public_id>/mfa-enrollment-token",
        staff_api.StaffEnrollmentTokenView.as_view(),
        name="staff-mfa-enrollment-token",
    ),
    path(
        "staff/<uuid:public_id>/mfa-reset",
        staff_api.StaffMfaResetView.as_view(),
        name="staff-mfa-reset",
    ),
]
