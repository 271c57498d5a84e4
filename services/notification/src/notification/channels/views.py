from __future__ import annotations

from fastapi import APIRouter

from notification.channels import service
from notification.channels.schemas import ChannelIn, ChannelKind, ChannelOut
from notification.deps import AdminWork, Keys, Planning
from notification.rules.cache import tenant_key
from tirek.web.problems import Unprocessable

router = APIRouter(prefix="/v1/channels", tags=["channels"])


def _out(state: service.ChannelState) -> ChannelOut:
    return ChannelOut(
        kind=state.kind,
        enabled=state.enabled,
        url=state.url,
        has_secret=state.has_secret,
    )


@router.get("", response_model=list[ChannelOut])
async def list_channels(work: AdminWork) -> list[ChannelOut]:
    """The organisation's channels. Secrets are never returned, only whether one is set."""
    async with work() as session:
        return [_out(state) for state in (await service.states(session)).values()]


@router.put("/{kind}", response_model=ChannelOut)
async def configure_channel(
    kind: ChannelKind, data: ChannelIn, work: AdminWork, keys: Keys, planning: Planning
) -> ChannelOut:
    """Turn a channel on or off, or change its url or secret (planning sees the change once it
    has committed; other instances of notification within their cache's TTL)."""
    if kind == "webhook" and data.enabled and not data.url:
        raise Unprocessable("A webhook needs a url.", title="Missing webhook url")
    if kind in ("inbox", "email") and (data.url or data.secret):
        raise Unprocessable(f"The {kind} channel takes no url or secret.", title="Unexpected field")
    async with work() as session:
        planning.invalidate_on_commit(session, tenant_key(work.principal.tenant_id))
        state = await service.configure(
            session, keys, tenant_id=work.principal.tenant_id, kind=kind, data=data
        )
        if kind in ("webhook", "telegram") and data.enabled and not state.has_secret:
            raise Unprocessable(
                f"The {kind} channel needs a secret (signing key or bot token).",
                title="Missing secret",
            )
        return _out(state)
