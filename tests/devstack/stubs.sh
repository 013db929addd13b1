#!/bin/bash
# Stand-ins for the DevStack functions reaper's plugin calls, for its test
# harness (tests/functional/test_devstack_plugin.py). Each records its call in
# $CALLS; iniset writes real ini files (as DevStack's does), so the test can
# read what the plugin configured.

: "${CALLS:?CALLS must name the file that records calls}"

function _record {
    echo "$*" >> "$CALLS"
}

function define_plugin { _record define_plugin "$@"; }
function plugin_requires { _record plugin_requires "$@"; }
function enable_service { _record enable_service "$@"; }
function is_service_enabled { return 0; }
function echo_summary { _record echo_summary "$@"; }
function setup_develop { _record setup_develop "$@"; }
function create_service_user { _record create_service_user "$@"; }
function get_or_create_project { _record get_or_create_project "$@"; echo "id-of-$1"; }
function get_notification_url { echo "rabbit://stackrabbit:secret@10.0.0.1:5672/"; }
function database_connection_url { echo "postgresql://root:secret@127.0.0.1/$1?client_encoding=utf8"; }
function recreate_database { _record recreate_database "$@"; }
function restart_service { _record restart_service "$@"; }
function run_process { _record run_process "$@"; }
function stop_process { _record stop_process "$@"; }
function get_python_exec_prefix { echo "$FAKE_BIN"; }
function sudo { "$@"; }

# DevStack's iniset: set (never append) option $3 of section $2 in file $1.
function iniset {
    _record iniset "$@"
    python3 - "$@" <<'PY'
import configparser, os, sys
path, section, option, value = sys.argv[1:5]
parser = configparser.RawConfigParser(strict=False)
parser.optionxform = str
if os.path.exists(path):
    parser.read(path)
if section != "DEFAULT" and not parser.has_section(section):
    parser.add_section(section)
parser.set(section, option, value)
with open(path, "w") as f:
    parser.write(f)
PY
}
