"""Who acts: a user through the web or API, or the system itself (sync, a command, a scheduled job)."""

from __future__ import annotations

from dataclasses import dataclass

from registry.choices import Channel


@dataclass(frozen=True)
class Actor:
    user: object | None
    channel: str
    ip: str | None = None
    label: str = ""

    @classmethod
    def from_request(cls, request, *, channel: str = Channel.WEB) -> Actor:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        ip = forwarded.split(",")[0].strip() if forwarded else request.META.get("REMOTE_ADDR")
        user = request.user if getattr(request.user, "is_authenticated", False) else None
        return cls(user=user, channel=channel, ip=ip or None, label=user.get_username() if user else "")

    @classmethod
    def system(cls, *, channel: str = Channel.SYSTEM, label: str = "system") -> Actor:
        return cls(user=None, channel=channel, label=label)

    @classmethod
    def for_user(cls, user, *, channel: str = Channel.WEB) -> Actor:
        return cls(user=user, channel=channel, label=user.get_username())

    @property
    def display(self) -> str:
        return self.label or (self.user.get_username() if self.user else str(self.channel))
