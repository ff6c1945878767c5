from rest_framework import serializers
from django.utils.translation import gettext

from portal.core.errors import InvalidInput


class StrictSerializer(serializers.Serializer):
    """Input serializer that refuses fields it does not know, so a typo is an
    error instead of a silently ignored change."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)

    def provided(self) -> dict:
        """Validated values for the fields the client actually sent."""
        return {key: value for key, value in self.validated_data.items() if key in self.initial_data}


def validated(serializer_class, data) -> StrictSerializer:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer


class TextField(serializers.CharField):
    """A CharField that refuses numbers and booleans instead of turning them into text."""

    default_error_messages = {"invalid": "Must be text."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A BooleanField that takes only JSON true and false: DRF's own turns
    "yes", "on", "1", 1 and "true" into True, so a typo or a string from a
    form would silently switch something. Every API serializer uses this one."""

    default_error_messages = {"invalid": "Must be true or false (a JSON boolean, not text or a number)."}

    def to_internal_value(self, data):
        if data is True or data is False:
            return data
        self.fail("invalid")


_QUERY_FLAGS = {"1": True, "true": True, "0": False, "false": False, "": False}


def query_flag(params, name: str) -> bool:
    """A yes/no query parameter: absent, 0/false or 1/true; anything else
    ("yes", "on", "maybe") is 400 naming it, never a silent guess."""
    value = params.get(name)
    if value is None:
        return False
    if value.lower() not in _QUERY_FLAGS:
        raise InvalidInput(gettext("%(name)s is 1 or 0 (true or false).") % {"name": name}, code=f"invalid_{name}", detail={"field": name})
    return _QUERY_FLAGS[value.lower()]
