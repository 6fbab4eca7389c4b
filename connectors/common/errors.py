"""Typed connector errors: every error names the channel and shop it came from.

Retriable vs fatal is decided here once. The HTTP client retries `RetriableError` (and transport
failures); everything else stops the pull for that shop with a message an operator can act on.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base class: a pull for one channel/shop failed."""

    def __init__(self, channel: str, shop_id: str, message: str) -> None:
        self.channel = channel
        self.shop_id = shop_id
        self.detail = message
        super().__init__(f"[{channel}/{shop_id}] {message}")

    def __reduce__(self) -> tuple[object, ...]:
        """Pickled as its class, message and attributes: an error raised in a page worker
        (connectors.common.page_workers) is raised again, whole, in the pulling process. The default
        would call the class with the formatted message alone, which its constructor refuses."""
        return _rebuilt, (type(self), self.args, dict(self.__dict__))


def _rebuilt(
    kind: type[ConnectorError], args: tuple[object, ...], attributes: dict[str, object]
) -> ConnectorError:
    error = kind.__new__(kind)
    Exception.__init__(error, *args)
    error.__dict__.update(attributes)
    return error


class FatalError(ConnectorError):
    """Retrying cannot help: bad signature, expired token, missing permission, bad request."""


class CredentialError(FatalError):
    """A credential is missing or rejected; names the environment variable to fix."""

    def __init__(self, channel: str, shop_id: str, message: str, env_var: str | None = None) -> None:
        self.env_var = env_var
        hint = f" (check the environment variable {env_var})" if env_var else ""
        super().__init__(channel, shop_id, message + hint)


class RetriableError(ConnectorError):
    """Throttled or a passing platform fault: retry after `retry_after` seconds (or with backoff)."""

    def __init__(self, channel: str, shop_id: str, message: str, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(channel, shop_id, message)


class RateLimited(RetriableError):
    """The platform said slow down (HTTP 429, TOP code 7, PDD 52101, ...)."""


class ProtocolError(ConnectorError):
    """The platform answered something we cannot read (malformed JSON, missing envelope, paging loop)."""


class ConfigError(Exception):
    """The pipeline's configuration is wrong; the message names the file, the key and the fix."""
