from django.apps import AppConfig


class CollectionsLinkConfig(AppConfig):
    name = "collections_link"
    verbose_name = "Collection system"
