"""Images against each vendor's documented limits, before any call (``mmo.catalog.images``): a
type it does not take, too many images, an image or a payload too large, too many pixels. A model
whose vendor would refuse the request's images is skipped (``BadRequest`` would stop a fallback;
this is a ``MissingCapability`` on ``images``, which fails over), with the limit in the trace; when
every model's vendor would refuse them, the run is refused before any spend, naming each limit."""

from __future__ import annotations

from mmo.catalog.images import image_problem
from mmo.core.errors import MissingCapability
from mmo.core.target import ModelTarget
from mmo.core.types import Request
from mmo.runtime.guard import Guard, GuardContext


class ImageGuard(Guard):
    def check(self, target: ModelTarget, request: Request, ctx: GuardContext) -> None:
        why = self.unservable(target, request, ctx)
        if why is not None:
            ctx.note(f"skipped {target.label}: {why}")
            raise MissingCapability(f"{why}; nothing was sent", capability="images", provider=target.ref.provider, model=target.ref.name)

    def unservable(self, target: ModelTarget, request: Request, ctx: GuardContext) -> str | None:
        images = request.images()
        if not images:
            return None
        endpoint = ctx.catalog.endpoint(target.ref.provider)
        text_bytes = sum(len(message.content.encode("utf-8", "replace")) for message in request.messages)
        problem = image_problem(endpoint.kind if endpoint is not None else "", images, text_bytes)
        return None if problem is None else f"its vendor would refuse the images: {problem}"
