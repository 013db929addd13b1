"""clouds.yaml for a run: how openstacksdk and the openstack CLI reach it as admin.

The admin cloud is scoped to the ``admin`` project: with the services' default policies
a project-scoped ``admin`` lists and deletes every project's resources (``all_projects``),
which is what reaper does. JSON strings are valid YAML scalars, so no YAML library is
needed to write the file.
"""

from __future__ import annotations

import json

from .configs import keystone_base
from .state import RunState


def _q(value: str) -> str:
    return json.dumps(value)


def write(state: RunState) -> None:
    text = f"""\
# Written by tests/testbed for run {state.run_id}; removed with the run.
clouds:
  {state.cloud_name}:
    auth:
      auth_url: {_q(keystone_base(state) + "/v3")}
      username: "admin"
      password: {_q(state.admin_password)}
      project_name: "admin"
      user_domain_name: "Default"
      project_domain_name: "Default"
    region_name: {_q(state.region)}
    interface: "public"
    identity_api_version: 3
"""
    path = state.layout.clouds_yaml
    path.write_text(text)
    path.chmod(0o600)
    state.clouds_yaml = str(path)
