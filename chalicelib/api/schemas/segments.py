"""Segment request bodies (/v1/admin/segments): the definition is the domain's model
(domain/segments.py), strict and closed like every body: an unknown field is a 400 naming it."""

from __future__ import annotations

from ...domain.segments import SegmentDefinition
from .fields import Body, Name


class SegmentRequest(Body):
    """A segment to save (POST) or its replacement (PUT): a name and who is in it."""

    name: Name
    definition: SegmentDefinition
