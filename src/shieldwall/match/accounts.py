"""Platform accounts as 'platform:handle' or 'platform:id:123', so '@Jane_Doe on X' and 'twitter:jane_doe' meet.

Handles are case-insensitive on the platforms we know, so they are lower-cased. A missing platform is '*',
which on a signal means "this handle on any platform" and on a query means "look on every platform".
"""

from __future__ import annotations

ANY_PLATFORM = "*"
PLATFORM_ALIASES = {
    "x": "twitter",
    "x.com": "twitter",
    "twitter.com": "twitter",
    "fb": "facebook",
    "facebook.com": "facebook",
    "ig": "instagram",
    "instagram.com": "instagram",
    "tiktok.com": "tiktok",
    "youtube.com": "youtube",
    "yt": "youtube",
    "t.me": "telegram",
    "tg": "telegram",
    "vk.com": "vk",
}


class AccountError(ValueError):
    pass


def canonical_platform(raw: str | None) -> str:
    name = (raw or "").strip().lower().removeprefix("www.")
    if not name:
        return ANY_PLATFORM
    return PLATFORM_ALIASES.get(name, name)


def canonical_account(raw: str, platform: str | None = None, *, is_id: bool = False) -> str:
    """'twitter:@Jane' -> 'twitter:jane'; 'twitter:id:42' or is_id=True -> 'twitter:id:42'."""
    text = raw.strip()
    if platform is None and ":" in text:
        platform, _, text = text.partition(":")
    if text.lower().startswith("id:"):
        is_id, text = True, text[3:]
    handle = text.strip().removeprefix("@").strip().lower()
    if not handle:
        raise AccountError(f"empty account in {raw!r}")
    if any(c.isspace() for c in handle) or ":" in handle:
        raise AccountError(f"{raw!r} is not an account handle (use platform:handle or platform:id:123)")
    if is_id:
        if not handle.isdigit():
            raise AccountError(f"account id {handle!r} in {raw!r} is not numeric")
        return f"{canonical_platform(platform)}:id:{handle}"
    return f"{canonical_platform(platform)}:{handle}"


def account_lookup_keys(value: str) -> tuple[str, str]:
    """(exact key, any-platform key) for a canonical account."""
    rest = value.partition(":")[2]
    return value, f"{ANY_PLATFORM}:{rest}"
