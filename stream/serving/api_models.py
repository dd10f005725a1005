"""The API's answers as pydantic models: they give the OpenAPI document its schemas."""

from __future__ import annotations

from pydantic import BaseModel, Field

POSITION_DOC = (
    "Applied offset per partition of segment-changes, `partition:offset` comma-separated; "
    "pass it (or one `partition:offset` you consumed) as `min_position` to read your writes."
)


class Error(BaseModel):
    error: str = Field(description="A short code: bad_parameter, unauthorized, not_found, ...")
    detail: str = Field(description="What went wrong and what to do about it.")


class ContactSegment(BaseModel):
    id: str
    since: str = Field(description="When the contact entered the segment (RFC 3339).")
    holdout: bool = Field(description="The contact is in the segment's control group.")


class Contact(BaseModel):
    contact_id: str
    segments: list[ContactSegment] = Field(description="Current segments, by id.")
    stage: str | None = Field(description="Lifecycle stage, or null for none.")
    seq: int = Field(description="The last change message applied for this contact.")
    position: str = Field(description=POSITION_DOC)


class Segment(BaseModel):
    id: str
    name: str | None
    description: str | None
    persona: str | None
    owner: str | None
    tags: list[str]
    holdout: float | None = Field(description="Share of entrants held out as a control group.")
    size: int = Field(description="Current members, held-out ones included.")
    held_out: int = Field(description="Current members in the control group.")


class SegmentWithPosition(Segment):
    position: str = Field(description=POSITION_DOC)


class Segments(BaseModel):
    segments: list[Segment]
    position: str = Field(description=POSITION_DOC)


class Members(BaseModel):
    members: list[str] = Field(description="Contact ids in contact-id (UTF-8 byte) order.")
    next: str | None = Field(description="Cursor of the next page; null at the end.")
    position: str = Field(description=POSITION_DOC)


class Membership(BaseModel):
    member: bool
    holdout: bool | None = Field(description="In the control group; null when not a member.")
    since: str | None = Field(description="When the contact entered; null when not a member.")
    position: str = Field(description=POSITION_DOC)


class Gap(BaseModel):
    contact_id: str
    seq: int = Field(description="The contact's last applied seq.")
    missing: list[list[int]] = Field(description="Seq ranges [first, last] never received.")


class Gaps(BaseModel):
    gaps: list[Gap]
    next: str | None = Field(description="Cursor of the next page; null at the end.")
    position: str = Field(description=POSITION_DOC)
