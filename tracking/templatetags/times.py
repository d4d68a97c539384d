"""{% load times %}{{ run.starts_at|when }}: a moment in the person's timezone as
"2026-03-01 14:05 CET" (tracking.timezones.local_text), "" for none."""

from django import template

from ..timezones import local_text

register = template.Library()
register.filter("when", local_text)
