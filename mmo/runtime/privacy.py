"""Data governance around every model call: with ``privacy: {pii: local_only}``, a request that
holds personal data or secrets goes only to models marked ``local``; so does a request with images
(their content cannot be checked), unless the profile says ``privacy: {images: allow}``
(``images: local_only`` asks for this alone).

The guard runs in ``ctx.complete`` before the cache and the provider, for every call any
strategy makes (router branches, classifiers, cascade tiers, judges, fallbacks), so no strategy
can forget it. A refusal is ``PolicyBlocked``, a ``failover`` error: a fallback moves on to the
next target, and when no local model is left the run fails with that error, having sent nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mmo.core.errors import PolicyBlocked
from mmo.core.target import ModelTarget
from mmo.core.types import Request
from mmo.runtime.guard import Guard, GuardContext

if TYPE_CHECKING:
    from mmo.runtime.pii import PiiFinding


def outgoing_text(request: Request) -> str:
    """Everything a provider would receive: every message (system and earlier turns included)
    and the arguments of tool calls in them."""
    parts: list[str] = []
    for message in request.messages:
        parts.append(message.content)
        parts.extend(call.arguments for call in message.tool_calls)
    return "\n".join(parts)


class PrivacyGuard(Guard):
    """Refuses non-local targets for requests with personal data (see the module docstring)."""

    def __init__(self, *, text: bool = True, images: bool = True) -> None:
        self.text, self.images = text, images
        # A fallback checks the same request against several targets: scan its text once.
        self._last: tuple[str, tuple[PiiFinding, ...]] | None = None

    def check(self, target: ModelTarget, request: Request, ctx: GuardContext) -> None:
        if target.local:
            return
        images = self.unservable(target, request, ctx)
        if images is not None:
            ctx.note("privacy guard: blocked; images may go only to local models")
            raise PolicyBlocked(images + "; nothing was sent", provider=target.ref.provider, model=target.ref.name, code="images_local_only")
        if not self.text:
            return
        findings = self.findings(request)
        if not findings:
            return
        from mmo.runtime.pii import describe_pii, pii_counts

        found = describe_pii(findings)
        ctx.note(f"privacy guard: blocked; personal data ({found}) may go only to local models", pii=pii_counts(findings))
        raise PolicyBlocked(
            f"the request holds personal data ({found}) and the profile allows it only on models marked local "
            "(privacy: {pii: local_only}); nothing was sent",
            provider=target.ref.provider,
            model=target.ref.name,
            code="pii_local_only",
        )

    def unservable(self, target: ModelTarget, request: Request, ctx: GuardContext) -> str | None:
        if target.local or not self.images or not any(message.images for message in request.messages):
            return None
        return ("the request holds images, whose content cannot be checked for personal data, and the profile allows them "
                "only on models marked local (privacy: {images: local_only}, or {pii: local_only}; {images: allow} sends them anywhere)")

    def findings(self, request: Request) -> tuple[PiiFinding, ...]:
        # Imported here: compiling the detector's patterns takes ~15 ms, which a session whose
        # profile allows personal data anywhere should not pay.
        from mmo.runtime.pii import detect_pii

        text = outgoing_text(request)
        last = self._last
        if last is not None and last[0] == text:
            return last[1]
        found = tuple(detect_pii(text))
        self._last = (text, found)
        return found
