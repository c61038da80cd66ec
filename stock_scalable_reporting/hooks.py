# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from .matviews import matview


def uninstall_hook(env):
    """Drop every materialized view and function this addon created: the ORM
    knows nothing of them."""
    matview.drop_all(env.cr)
