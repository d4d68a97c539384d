"""GeoJSON (RFC 7946) for the partner API, written with plain DRF serializers so the
schema says exactly what is sent: a Feature's geometry is null for a tracker that never
reported, and the properties are the same fields as the JSON form."""

from __future__ import annotations

from collections import OrderedDict

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers


def constant(value: str, **kwargs) -> serializers.Field:
    """A field that is always `value` (GeoJSON's "type" members)."""
    field = type(f"{value}Constant", (serializers.CharField,), {})
    return extend_schema_field({"type": "string", "enum": [value]})(field)(default=value, **kwargs)


class PointSerializer(serializers.Serializer):
    """A position as {longitude, latitude} (WGS84 degrees)."""

    longitude = serializers.FloatField(source="x", min_value=-180, max_value=180)
    latitude = serializers.FloatField(source="y", min_value=-90, max_value=90)


@extend_schema_field(PointSerializer(allow_null=True))
class PositionField(serializers.Field):
    """A point as {longitude, latitude} (null when there is none), read from the row's `lon`
    and `lat` (selectors.coordinates): lists of hundreds of rows then build no geometry
    object and no nested serializer per row."""

    def __init__(self, **kwargs):
        kwargs.update(read_only=True, source="*")
        super().__init__(**kwargs)

    def to_representation(self, row):
        if row.lon is None:
            return None
        return {"longitude": row.lon, "latitude": row.lat}


class GeoJSONPointSerializer(serializers.Serializer):
    type = constant("Point")
    coordinates = serializers.ListField(
        child=serializers.FloatField(),
        min_length=2,
        max_length=2,
        help_text="[longitude, latitude]",
    )


@extend_schema_field(GeoJSONPointSerializer(allow_null=True))
class GeometryField(PositionField):
    def to_representation(self, row):
        if row.lon is None:
            return None
        return {"type": "Point", "coordinates": [row.lon, row.lat]}


def feature_serializer(name: str, properties: type[serializers.Serializer], geometry: str):
    """A Feature serializer for `properties`' objects, with the field `geometry` of those
    properties as the Feature's geometry (and not repeated among the properties)."""

    class PropertiesSerializer(properties):
        def get_fields(self):
            fields = super().get_fields()
            fields.pop(geometry)
            return fields

    PropertiesSerializer.__name__ = f"{name}Properties"

    class Feature(serializers.Serializer):
        type = constant("Feature", read_only=True)
        id = serializers.IntegerField(read_only=True)
        geometry = GeometryField()
        properties = PropertiesSerializer(source="*", read_only=True)

        def to_representation(self, instance):
            return {"type": "Feature", **super().to_representation(instance)}

    Feature.__name__ = name
    return Feature


def feature_collection_serializer(name: str, feature: type, *, paged: str):
    """The schema of a FeatureCollection page: GeoJSON plus the page's links (foreign
    members, which RFC 7946 allows) and, for offset pages, the total count."""
    attrs = {
        "type": constant("FeatureCollection"),
        "features": feature(many=True),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
    }
    if paged == "offset":
        attrs["count"] = serializers.IntegerField()
    # many=False: the schema must not wrap this page in another list and page.
    return extend_schema_serializer(many=False)(type(name, (serializers.Serializer,), attrs))


def feature_collection(features, paginator, *, offset: bool) -> OrderedDict:
    body = OrderedDict(type="FeatureCollection")
    if offset:
        body["count"] = paginator.count
    body["next"] = paginator.get_next_link()
    body["previous"] = paginator.get_previous_link()
    body["features"] = features
    return body
