from . import turnstile
