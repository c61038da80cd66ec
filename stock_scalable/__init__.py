from . import models
from . import inventory_command
from . import controllers
from . import locking

from .hooks import post_init_hook, pre_init_hook, uninstall_hook
