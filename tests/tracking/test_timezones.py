"""tracking.timezones.local_text (the `when` filter) writes what the `date` filter writes."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.utils import timezone

from tracking.timezones import local_text

ZONES = ["UTC", "Europe/Vienna", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe",
         "America/Sao_Paulo", "Pacific/Chatham", "Etc/GMT+5"]  # fmt: skip
MOMENTS = [datetime(2026, 1, 5, 3, 7, tzinfo=UTC), datetime(2026, 7, 5, 23, 59, tzinfo=UTC)]


@pytest.mark.parametrize("zone", ZONES)
def test_when_writes_the_date_filters_text_in_the_active_timezone(zone):
    template = Template('{% load times %}{{ at|date:"Y-m-d H:i T" }}|{{ at|when }}')
    with timezone.override(ZoneInfo(zone)):
        for moment in MOMENTS:
            by_date, by_when = template.render(Context({"at": moment})).split("|")
            assert by_when == by_date == local_text(moment)


def test_when_of_nothing_is_empty():
    assert local_text(None) == ""
    assert Template("{% load times %}[{{ at|when }}]").render(Context({"at": None})) == "[]"


def test_when_names_the_local_day_and_zone():
    with timezone.override(ZoneInfo("Asia/Kolkata")):
        assert local_text(datetime(2026, 7, 5, 23, 59, tzinfo=UTC)) == "2026-07-06 05:29 IST"
