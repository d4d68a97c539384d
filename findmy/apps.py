from django.apps import AppConfig


class FindMyConfig(AppConfig):
    name = "findmy"
    verbose_name = "FindMy"
