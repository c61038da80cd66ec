# The lock protocol of a posting (docs/architecture.md, "Lock protocol"):
# every lock statement (locks.py), the hot-product turnstile (turnstile.py),
# and the negative-stock and serial checks run under those locks
# (posting_guard.py).
from . import turnstile
