"""Wave 1: the Instagram profile and recent posts, read with the user's token."""

from __future__ import annotations

import asyncio
from typing import Any

from jiwa.failures import WaveFailedError
from jiwa.instagram import InstagramError
from jiwa.job.runner import WaveContext
from jiwa.waves.services import WaveServices

INSTAGRAM_DOWN = WaveFailedError.of("instagram_unavailable")


def summarize_posts(media: list[dict[str, Any]], limit: int = 12) -> list[dict[str, str]]:
    return [{"caption": str(m.get("caption") or "")[:500],
             "media_type": str(m.get("media_type") or ""),
             "media_url": str(m.get("media_url") or ""),
             "timestamp": str(m.get("timestamp") or "")} for m in media[:limit]]


async def run(ctx: WaveContext, services: WaveServices) -> dict[str, Any]:
    services.claude.warm_up()  # wave 3 needs Claude; load its SDK while we wait on Instagram
    token = services.cipher.decrypt(ctx.job.instagram_token or "", ctx.job.id)
    try:  # neither request needs the other's answer: one round trip, not two
        profile, media = await asyncio.gather(
            asyncio.to_thread(services.instagram.profile, token),
            asyncio.to_thread(services.instagram.recent_media, token))
    except InstagramError as exc:
        raise INSTAGRAM_DOWN from exc
    fields = {k: profile.get(k) for k in ("user_id", "username", "name", "biography",
                                          "website", "followers_count", "media_count")}
    posts = summarize_posts(media)
    business_id = f"ig_{fields['user_id'] or fields['username']}"
    await asyncio.to_thread(services.store.save_business, ctx.job.id, business_id,
                            {"profile": fields, "posts": posts, "jobId": ctx.job.id})
    return {"business_id": business_id, "profile": fields, "posts": posts}
