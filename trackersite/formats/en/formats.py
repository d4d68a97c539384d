# Every time on a page says its timezone: staff and customers work across timezones, and the
# platform stores and shows UTC (TIME_ZONE), so "16:52" alone would be a guess.
DATETIME_FORMAT = "Y-m-d H:i T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i"
