"""reaper's configuration options, one module per option group (the nova/aodh way).

Each module names its ``GROUP`` and declares its ``OPTS``; a new option goes
into its group's module, a new group into a new module listed in
:data:`reaper.config.GROUP_MODULES`. :mod:`reaper.config` is the public face
(``list_opts``, ``register_opts``, ``make_conf``, ``store_url``); nothing
here imports anything of reaper's, so every floor may read these lists.
"""
