"""The operator chat panel (SPEC E5): a web component any page embeds with one script tag.

- `static/`: the widget itself, plain ES modules (no build step), and the official
  SignalR browser client vendored from the npm registry (`static/vendor/`);
- `assets`: those files as served, with their content types, ETags and cache lifetimes;
- `routes`: `GET /widget/operator-chat-panel/…`, and `chathub_surface`, which puts
  ChatHub's routers under the widget's CORS policy;
- `cors`: which other origins may load the widget and call ChatHub (`CASCADE_WIDGET_ORIGINS`).
"""

from cascade.api.chathub.widget.assets import Assets
from cascade.api.chathub.widget.cors import CorsPolicy, parse_origins
from cascade.api.chathub.widget.routes import PATH, chathub_surface, widget_router

__all__ = ["PATH", "Assets", "CorsPolicy", "chathub_surface", "parse_origins", "widget_router"]
