"""``[store]``: reaper's database."""

from __future__ import annotations

from oslo_config import cfg

GROUP = "store"


OPTS = [
    cfg.StrOpt(
        "connection",
        secret=True,
        help="SQLAlchemy URL of reaper's database. When unset, an embedded SQLite file in "
        "state_path is used, which suits the CLI and a single controller. Use PostgreSQL "
        "(postgresql+psycopg2://...) or MySQL 8 / MariaDB 10.6+ (mysql+pymysql://...) to "
        "run several controllers.",
    ),
    cfg.IntOpt(
        "connect_timeout",
        default=10,
        min=1,
        help="Seconds to wait for the database before reporting it unreachable.",
    ),
]
