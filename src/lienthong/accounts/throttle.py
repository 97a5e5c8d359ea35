"""Throttling of credential guessing: sign-in passwords and the HTTP Basic credentials of
agency software, counted per account and per client address in the shared rate-limit store.

Only failures count. When an account or an address has failed too often within the window,
every further attempt — the right password included — is refused with 429 until the window
lets it through again (the lockout expires by itself). A success clears that account's count.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from lienthong.config import Settings
from lienthong.kernel.errors import TooManyRequests, wait_text
from lienthong.kernel.ratelimit import RateLimiter, Rule


@dataclass(frozen=True)
class Rules:
    account: Rule
    address: Rule


def signin_rules(settings: Settings) -> Rules:
    return Rules(
        Rule("signin.account", settings.signin_account_limit),
        Rule("signin.address", settings.signin_address_limit),
    )


def basic_rules(settings: Settings) -> Rules:
    return Rules(
        Rule("basic.system", settings.basic_failure_limit),
        Rule("basic.address", settings.basic_failure_limit),
    )


def _key(name: str) -> str:
    return name.strip().lower()[:120]


# Keys found clear of any lockout in the last moment, per process: agency software calls many
# times a second with the same id from the same address, and each check is a read of the
# shared store. A failure forgets the key here at once; a lockout reached through another
# process applies here within CLEAR_FOR seconds.
CLEAR_FOR = 1.0
_clear: dict[tuple[str, str, str], float] = {}
_clear_lock = threading.Lock()


def check(limiter: RateLimiter, rules: Rules, *, name: str, address: str) -> None:
    """Refuse (429 `signin_throttled`) when the account or the address is locked out."""
    key = (rules.account.name, _key(name), address)
    now = time.monotonic()
    with _clear_lock:
        if _clear.get(key, 0.0) > now:
            return
    waits = [
        decision.retry_after
        for decision in (
            limiter.test(rules.account, _key(name)),
            limiter.test(rules.address, address),
        )
        if not decision.allowed
    ]
    if not waits:
        with _clear_lock:
            if len(_clear) > 10_000:
                _clear.clear()
            _clear[key] = now + CLEAR_FOR
        return
    if waits:
        wait = max(waits)
        raise TooManyRequests(
            f"Đăng nhập sai quá nhiều lần; hãy thử lại sau {wait_text(wait, 'vi')}.",
            f"Too many failed sign-ins; try again in {wait_text(wait, 'en')}.",
            code="signin_throttled",
            retry_after=wait,
        )


def failed(limiter: RateLimiter, rules: Rules, *, name: str, address: str) -> None:
    with _clear_lock:
        for key in [k for k in _clear if k[1] == _key(name) or k[2] == address]:
            del _clear[key]
    limiter.hit(rules.account, _key(name))
    limiter.hit(rules.address, address)


def succeeded(limiter: RateLimiter, rules: Rules, *, name: str) -> None:
    limiter.clear(rules.account, _key(name))
