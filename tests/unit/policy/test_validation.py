"""Broken policy files: every problem is reported, at the right line and column."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from reaper.policy import PolicyError, load_policies

Errors = Callable[[str], list[str]]


#: Each broken policy and every error it gets, in order, as ``line:column: message``.
BROKEN = [
    pytest.param(
        """
            policies:
              - name: p
                triggers: [identity.project.deleted
                resources: [compute.server]
            """,
        ["4:14: while parsing a flow sequence expected ',' or ']', but got ':'"],
        id="yaml_syntax_errors_name_the_line",
    ),
    pytest.param(
        # Plain YAML keeps the last one: a second protect: would silently replace the first.
        """
            policies:
              - name: p
                triggers: [identity.project.deleted]
                resources: [compute.server]
                protect: [{tag: "reaper:keep"}]
                actions: [delete]
                protect: []
            """,
        ["7:5: duplicate key 'protect' (first defined on line 5)"],
        id="duplicate_keys_are_refused",
    ),
    pytest.param(
        """
            policies:
              - name: p
                triggers: &t [identity.project.deleted]
                resources: [compute.server]
                protect: *t
            """,
        ["5:14: aliases (*t) are not allowed in policy files: write the rule out where it applies"],
        id="aliases_are_refused",
    ),
    pytest.param(
        """
            policies:
              - name: p
                triggers: [identity.project.deleted]
                resources: [compute.server]
                protect:
                  - {tagg: "reaper:keep"}
            """,
        [
            "6:9: policies[0].protect[0]: unknown filter tagg: a filter is a mapping with one of "
            "key, age, tag, metadata, and, or, not"
        ],
        id="unknown_filter",
    ),
    pytest.param(
        """
            policies:
              - name: p
                triggers: [identity.project.deleted]
                resources: [compute.server]
                filters:
                  - or:
                      - {key: status, value: ERROR}
                      - {agee: {value: 1d}}
                actions: [delete]
            """,
        [
            "8:13: policies[0].filters[0].or[1]: unknown filter agee: a filter is a mapping with "
            "one of key, age, tag, metadata, and, or, not"
        ],
        id="unknown_filter_inside_a_composition",
    ),
    pytest.param(
        """
            policies:
              - name: p
                triggers: [identity.project.deleted]
                resources: [compute.server]
                actions:
                  - delete
                  - {type: shred}
            """,
        [
            "7:16: policies[0].actions[1].type: unknown action 'shred' (known: delete, "
            "evidence_snapshot, lock, quarantine, report, stop, tag)"
        ],
        id="unknown_action",
    ),
    pytest.param(
        """
            policies:
              - name: p
                triggers: [identity.project.deleted]
                resources: [compute.server]
                actions:
                  - {type: delete, force: true}
            """,
        [
            "6:24: policies[0].actions[0]: unknown field 'force' in action delete "
            "(expected: after, type)"
        ],
        id="unknown_action_parameter",
    ),
    pytest.param(
        """
            policies:
              - name: p
                triggers: identity.project.deleted
                resources: [compute.server]
                filters:
                  - {key: status, op: in, value: ACTIVE}
                actions:
                  - {type: quarantine, reason: 42}
                limits: {max_resources: many}
            """,
        [
            "3:15: policies[0].triggers: expected a list, found a string "
            "'identity.project.deleted'",
            "6:38: policies[0].filters[0].value: expected a list, found a string 'ACTIVE'",
            "8:36: policies[0].actions[0].reason: expected a string, found an integer 42",
            "9:29: policies[0].limits.max_resources: expected an integer, found a string 'many'",
        ],
        id="wrong_types",
    ),
    pytest.param(
        """
            policies:
              - name: p
                triggers: [identity.project.deleted]
                resources: [compute.server]
                filters:
                  - {key: name, op: regex, value: "web-(prod"}
                actions: [delete]
            """,
        [
            "6:39: policies[0].filters[0].value: invalid regular expression 'web-(prod': "
            "missing ), unterminated subpattern at position 4"
        ],
        id="bad_regex",
    ),
    pytest.param(
        """
            policies:
              - name: p
                triggers: [identity.project.deleted]
                resources: [compute.server]
                filters:
                  - {key: status, op: ne}
                  - {key: status, op: present, value: true}
                actions: [delete]
            """,
        [
            "6:9: policies[0].filters[0]: eq/ne/contains needs a value",
            "7:9: policies[0].filters[1]: op present takes no value",
        ],
        id="op_without_its_value_and_unary_op_with_one",
    ),
    pytest.param(
        """
            policies:
              - name: p
                triggers: [identity.project.removed, "identity.group.*"]
                resources: [compute.servr, "xyz.*"]
                actions: [delete]
            """,
        [
            "3:16: policies[0].triggers[0]: unknown trigger 'identity.project.removed' "
            "(did you mean identity.project.deleted?)",
            "3:42: policies[0].triggers[1]: trigger pattern 'identity.group.*' matches no trigger",
            "4:17: policies[0].resources[0]: unknown resource type 'compute.servr' "
            "(did you mean compute.server?)",
            "4:32: policies[0].resources[1]: resource type pattern 'xyz.*' matches no "
            "resource type",
        ],
        id="unknown_resource_type_and_trigger",
    ),
    pytest.param(
        # A rule that can never hold on a type would be a promise of protection not kept.
        """
            policies:
              - name: p
                triggers: [identity.project.deleted]
                resources: [network.network, network.port]
                protect:
                  - {key: is_router_external, value: true}
            """,
        [
            "6:9: policies[0].protect[0]: protect rule 'is_router_external eq true' tests field "
            "is_router_external, which network.port does not have: it could never protect them "
            "(list only types that have the field, or use a glob)"
        ],
        id="protect_on_a_field_a_listed_type_lacks",
    ),
    pytest.param(
        """
            policies:
              - name: p
                triggers: [identity.project.deleted]
                resources: ["*"]
                protect:
                  - {key: is_sharde, value: true}
            """,
        [
            "6:9: policies[0].protect[0]: protect rule 'is_sharde eq true' applies to none of the "
            "policy's resource types: none has field is_sharde"
        ],
        id="protect_on_a_field_no_globbed_type_has",
    ),
    pytest.param(
        """
            policies:
              - name: p
                triggers: [identity.project.deleted]
                resources: [compute.server, block_storage.volume]
                filters:
                  - {key: device_owner, op: glob, value: "network:*"}
                actions: [delete]
            """,
        [
            "6:9: policies[0].filters[0]: filter 'device_owner glob network:*' tests field "
            "device_owner, which none of the policy's resource types has: it could never match"
        ],
        id="filter_on_a_field_no_type_has",
    ),
    pytest.param(
        """
            policies:
              - name: p
                triggers: [identity.project.deleted]
                resources: [compute.server, block_storage.volume]
                actions: [quarantine]
            """,
        [
            "5:15: policies[0].actions[0]: action quarantine does not apply to "
            "block_storage.volume; it applies to compute.server"
        ],
        id="action_not_applicable_to_a_listed_type",
    ),
    pytest.param(
        # Actions on a resource run in list order, so the order must make sense.
        """
            policies:
              - name: p
                triggers: [identity.project.deleted]
                resources: [compute.server]
                actions:
                  - {type: evidence_snapshot, after: 1d}
                  - delete
                  - {type: tag, tags: [x], after: 7d}
                  - delete
            """,
        [
            "7:9: policies[0].actions[1]: action delete (after 0s) would run before "
            "evidence_snapshot (after 1d): grace periods must not decrease down the list",
            "8:9: policies[0].actions[2]: action tag comes after delete, which removes "
            "the resource",
            "9:9: policies[0].actions[3]: action delete is listed twice (first as actions[1])",
            "9:9: policies[0].actions[3]: action delete comes after delete, which removes "
            "the resource",
            "9:9: policies[0].actions[3]: action delete (after 0s) would run before tag "
            "(after 7d): grace periods must not decrease down the list",
        ],
        id="action_order_rules",
    ),
    pytest.param(
        """
            policies:
              - name: nothing
                triggers: [identity.project.deleted]
                resources: [compute.server]
              - name: filters-only
                triggers: [identity.project.deleted]
                resources: [compute.server]
                protect: [{tag: "reaper:keep"}]
                filters: [{key: status, value: ERROR}]
            """,
        [
            "2:5: policies[0]: policy nothing does nothing: give it actions or protect rules",
            "9:5: policies[1].filters: policy filters-only has filters but no actions: filters "
            "only choose what actions apply to (use protect to keep resources safe)",
        ],
        id="policies_that_do_nothing",
    ),
    pytest.param(
        """
            policies:
              - name: p
                trigger: [identity.project.deleted]
                resources: [compute.server]
                actions: [delete]
            """,
        [
            "2:5: policies[0]: policy needs 'triggers'",
            "3:5: policies[0]: unknown field 'trigger' in policy (expected: actions, description, "
            "filters, limits, name, protect, resources, triggers)",
        ],
        id="unknown_and_missing_policy_fields",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BROKEN)
def test_a_broken_policy_gets_every_error_at_its_line_and_column(
    errors: Errors, text: str, expected: list[str]
) -> None:
    assert errors(text) == expected


def test_yes_and_no_are_strings_not_booleans(policies: Callable[[str], object]) -> None:
    loaded = policies(
        """
        policies:
          - name: p
            triggers: [identity.project.deleted]
            resources: [network.network]
            protect:
              - {key: is_shared, value: yes}
        """
    )
    rule = loaded.policies[0].protect[0]  # type: ignore[attr-defined]
    assert rule.filter.value == "yes"


def test_a_list_where_eq_wants_one_value(errors: Errors) -> None:
    [error] = errors(
        """
        policies:
          - name: p
            triggers: [identity.project.deleted]
            resources: [image.image]
            protect:
              - {key: visibility, value: [public, community]}
        """
    )
    assert error.startswith("6:34: policies[0].protect[0].value: ")
    assert "use op: in or not-in for a list" in error


@pytest.mark.parametrize("duration", ["7", "7x", "1d12h", "a week"])
def test_bad_durations(errors: Errors, duration: str) -> None:
    assert errors(
        f"""
        policies:
          - name: p
            triggers: [identity.project.deleted]
            resources: [compute.server]
            actions:
              - {{type: delete, after: "{duration}"}}
        """
    ) == [
        f"6:31: policies[0].actions[0].after: {duration!r} is not a duration such as "
        "7d, 12h, 30m or 2w"
    ]


def test_protect_inside_a_composition_points_at_the_leaf(errors: Errors) -> None:
    [error] = errors(
        """
        policies:
          - name: p
            triggers: [identity.project.deleted]
            resources: [compute.keypair]
            protect:
              - or:
                  - {key: name, value: admin}
                  - {tag: "reaper:keep"}
        """
    )
    assert error.startswith("8:13: policies[0].protect[0].or[1]: protect rule 'tagged reaper:keep'")
    assert "any of the fields metadata, properties, tags, which compute.keypair" in error


def test_a_glob_does_not_narrow_an_action(errors: Errors) -> None:
    [error] = errors(
        """
        policies:
          - name: p
            triggers: [identity.project.deleted]
            resources: ["compute.*"]
            actions: [stop]
        """
    )
    assert error.startswith(
        "5:15: policies[0].actions[0]: action stop does not apply to compute.keypair, "
        "compute.quota, compute.server_group and 1 more (matched by a glob: list the types "
        "instead)"
    )


def test_names_are_unique_within_a_file(write: Callable[..., str]) -> None:
    path = write(
        """
        policies:
          - name: p
            triggers: [identity.project.deleted]
            resources: [compute.server]
            actions: [delete]
          - name: p
            triggers: [identity.project.deleted]
            resources: [compute.keypair]
            actions: [delete]
        """,
        "a.yaml",
    )
    with pytest.raises(PolicyError) as exc:
        load_policies([path])
    [error] = exc.value.errors
    assert (
        str(error) == f"{path}:6:11: policies[1].name: policy name 'p' is already used at {path}:2"
    )


def test_a_later_file_overrides_an_earlier_policy_of_the_same_name_in_its_place(
    write: Callable[..., str],
) -> None:
    """A directory with the shipped files and an operator's edited copy loads: the last wins."""
    first = write(
        """
        policies:
          - name: p
            triggers: [identity.project.deleted]
            resources: [compute.server]
            actions: [delete]
          - name: q
            triggers: [identity.project.deleted]
            resources: [compute.keypair]
            actions: [delete]
        """,
        "a.yaml",
    )
    second = write(
        """
        policies:
          - name: p
            triggers: [identity.project.deleted]
            resources: [compute.server]
            actions: [stop]
        """,
        "b.yaml",
    )
    policies = load_policies([first, second])
    assert policies.names() == ["p", "q"]
    assert [a.name for a in policies.policies[0].actions] == ["stop"]
    assert policies.policies[0].file == second
    [override] = policies.overrides
    assert (override.name, override.winner, override.loser) == ("p", f"{second}:2", f"{first}:2")


def test_the_shipped_directory_loads_whole(tmp_path: Path) -> None:
    """default.yaml and forensic.yaml share names; forensic.yaml, later by name, wins."""
    shipped = Path(__file__).resolve().parents[3] / "policies"
    policies = load_policies([str(shipped)])
    assert {o.name for o in policies.overrides} == {
        "never-touch-shared-or-kept",
        "report-dangling-dns",
    }
    assert all(o.winner.startswith(str(shipped / "forensic.yaml")) for o in policies.overrides)
    assert len(policies.names()) == len(set(policies.names()))


def test_every_error_of_every_file_at_once(write: Callable[..., str], tmp_path: Path) -> None:
    bad = write("policies: [{name: p}]\n", "bad.yaml")
    broken = write("policies: [\n", "broken.yaml")
    with pytest.raises(PolicyError) as exc:
        load_policies([bad, broken, str(tmp_path / "missing.yaml")])
    assert [(e.file, e.line) for e in exc.value.errors] == [
        (bad, 1),
        (broken, 2),
        (str(tmp_path / "missing.yaml"), 0),
    ]
    assert str(exc.value).splitlines()[-1].endswith("missing.yaml: no such file or directory")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty policy file"),
        ("- a\n", "1:1: a policy file is a mapping with a 'policies' list"),
        ("policies: []\nversion: 2\n", "2:10: version: only version 1 exists"),
        ("policies: []\nextra: 1\n", "2:1: unknown field 'extra' in policy file"),
    ],
)
def test_file_level_errors(write: Callable[..., str], text: str, message: str) -> None:
    with pytest.raises(PolicyError) as exc:
        load_policies([write(text)])
    assert message in str(exc.value)


def test_no_paths_at_all_is_an_error_not_an_empty_policy_set() -> None:
    with pytest.raises(PolicyError, match="no policy files to load"):
        load_policies([])


def test_a_directory_loads_its_yaml_files_in_name_order(tmp_path: Path) -> None:
    for name in ("b.yaml", "a.yml", "notes.txt"):
        (tmp_path / name).write_text(
            f"policies:\n  - name: {name.split('.')[0]}\n    triggers: ['*']\n"
            "    resources: [compute.server]\n    actions: [delete]\n"
        )
    assert load_policies([str(tmp_path)]).names() == ["a", "b"]
