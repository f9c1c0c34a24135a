"""The app's stored per-user Facebook tokens, for production: `packs.facebook.user_tokens = "module:function"`.

Graph lets an app read a user's feed only with that user's own token (the user granted `user_posts` to the
app when they signed up), so social-graph reads each app-using friend's feed with the token the app stored for
that friend. Where those tokens live is the deployer's (their users table, a secrets store), so the setting
names a function the worker imports: it takes a user id and returns the token, or None when the app holds
none. A bad setting fails the job that needs it with a message naming the setting, never silently.
"""

from __future__ import annotations

import importlib

from scheduler.errors import ConfigError
from workloads.sources.types import UserTokens

SETTING = "packs.facebook.user_tokens"


def load_user_tokens(spec: str) -> UserTokens:
    """The function `spec` ("package.module:function") names; ConfigError saying what is wrong otherwise."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"{SETTING}: {spec!r} must be 'module:function', e.g. 'myapp.tokens:facebook_token'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigError(f"{SETTING}: cannot import {module_name!r} ({err}); is it installed on the workers?") from err
    found = getattr(module, attribute, None)
    if not callable(found):
        raise ConfigError(f"{SETTING}: {module_name!r} has no function {attribute!r}")
    lookup: UserTokens = found
    return lookup
