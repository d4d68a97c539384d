"""{% load ages %}{{ tracker.last_report_at|age }}: how long ago, in a few characters
("just now", "12 min ago", "5 h ago", "3 d ago"); the exact time goes in a title beside it."""

from datetime import datetime

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def age(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return ""
    seconds = ((now or timezone.now()) - value).total_seconds()
    if seconds < 60:
        return "just now"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min ago"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h ago"
    return f"{hours // 24} d ago"
