"""The portal's tracking pages; trackersite/portal_urls.py puts them in the `portal` namespace."""

from django.urls import path

from .views import accounts, alerts, exports, integrations, members, shares, trackers

urlpatterns = [
    path("account/", accounts.account, name="account"),
    path("members/", members.members, name="members"),
    path("members/clients/<int:pk>/invite/", members.member_invite, name="member-invite"),
    path("members/<int:pk>/role/", members.member_role, name="member-role"),
    path("members/<int:pk>/remove/", members.member_remove, name="member-remove"),
    path(
        "members/invitations/<int:pk>/withdraw/",
        members.invitation_revoke,
        name="invitation-revoke",
    ),
    # The e-mail's link; its token is masked in log lines (trackersite.requestid).
    path("invitations/accept/", members.invitation_accept, name="invitation-accept"),
    path("invitations/<str:token>/", members.invitation, name="invitation"),
    path("trackers/", trackers.tracker_list, name="tracker-list"),
    path("trackers/export.csv", exports.tracker_list_csv, name="tracker-list-export"),
    path("trackers/<int:pk>/label/", trackers.tracker_label, name="tracker-label"),
    path("trackers/labels/", trackers.tracker_labels_upload, name="tracker-labels-upload"),
    path("runs/<int:pk>/trackers.csv", exports.run_trackers_csv, name="run-export"),
    path("integrations/", integrations.integrations, name="integrations"),
    path("integrations/keys/<int:pk>/revoke/", integrations.api_key_revoke, name="api-key-revoke"),
    path("shares/", shares.share_links, name="share-links"),
    path("shares/<int:pk>/revoke/", shares.share_link_revoke, name="share-link-revoke"),
    path("alerts/", alerts.alert_settings, name="alerts"),
    path("alerts/clients/<int:pk>/rules/", alerts.alert_rules, name="alert-rules"),
    path("notifications/", alerts.notification_list, name="notifications"),
    path("notifications/<int:pk>/read/", alerts.notification_read, name="notification-read"),
    path("notifications/read-all/", alerts.notifications_read_all, name="notifications-read-all"),
]
