"""What the web UI reads from the server's settings (``GET /api/ui-config``).

The browser cannot read environment variables: the live page's reconnection
(``FASTREC_WS_RECONNECT_*``), the idle threshold and the share-link choices come from here,
so the one configuration of the server is also the page's.
"""

from __future__ import annotations

from fastapi import APIRouter

from fastrec.policy.document import Permission
from fastrec.server.accounts import Role
from fastrec.server.audit import AuditAction
from fastrec.server.auth import Ctx, Viewer
from fastrec.server.schemas import UiConfig
from fastrec.server.shares import EXPIRY_CHOICES

router = APIRouter(tags=["ui"])


@router.get("/api/ui-config", response_model=UiConfig, responses={401: {}})
def ui_config(principal: Viewer, ctx: Ctx) -> UiConfig:
    """Settings the web UI needs: WebSocket reconnection, idle threshold, choices it offers,
    and what the recording policy lets the signed-in user do with recordings."""
    s = ctx.settings
    active = ctx.active_policy.current()
    return UiConfig(ws_reconnect_base_delay=s.ws_reconnect_base_delay, ws_reconnect_max_delay=s.ws_reconnect_max_delay,
                    ws_reconnect_max_attempts=s.ws_reconnect_max_attempts, idle_seconds=s.idle_seconds,
                    share_expiry_choices=list(EXPIRY_CHOICES), audit_actions=[a.value for a in AuditAction],
                    roles=[r.value for r in Role],
                    permissions=[p.value for p in Permission if active.policy.permissions.allows(principal.user.role, p)])
