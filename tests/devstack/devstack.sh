#!/bin/bash
#
# Runs reaper's DevStack plugin the way DevStack's own scripts do, through
# DevStack's own library: the same files sourced in the same order, the same
# plugin phases, with the steps of stack.sh, unstack.sh and clean.sh that
# have nothing to do with a plugin (package installs, cloning, other
# services) left out. Each mode below names the lines of the script it
# follows.
#
# usage: devstack.sh TOP_DIR stack|unstack|clean
#
# TOP_DIR is a copy of DevStack with a local.conf (DevStack writes localrc,
# .localrc.auto and .stackenv beside stack.sh). What needs root, the network
# or a running systemd is faked on PATH (tests/devstack/fakes); everything
# else, run_process and stop_process included, is DevStack's.

TOP_DIR=$(cd "$1" && pwd)
MODE=$2
FILES=$TOP_DIR/files

# stack.sh's echo_summary is not a library function (it feeds stack.sh's
# spinner and log files); plugins call it.
function echo_summary {
    echo -e "$@"
}

# The libraries of the services, as stack.sh sources them after
# override_defaults (unstack.sh and clean.sh source a subset).
function source_service_libraries {
    local lib
    for lib in apache tls infra libraries lvm horizon keystone glance nova \
        placement cinder swift neutron ldap dstat atop tcpdump etcd3 os-vif; do
        source "$TOP_DIR/lib/$lib"
    done
}

function stack {
    # stack.sh: "Prepare the environment", "Global Settings".
    LAST_SPINNER_PID=""
    source "$TOP_DIR/functions"
    source "$TOP_DIR/lib/stack"
    GetDistro
    rm -f "$TOP_DIR/.localrc.auto"
    extract_localrc_section "$TOP_DIR/local.conf" "$TOP_DIR/localrc" "$TOP_DIR/.localrc.auto"
    source "$TOP_DIR/stackrc"

    set -o errexit
    # stack.sh: "Configure Projects".
    source "$TOP_DIR/lib/database"
    source "$TOP_DIR/lib/rpc_backend"
    fetch_plugins
    run_phase override_defaults
    source_service_libraries
    run_phase source

    # stack.sh: "Database Configuration" (the passwords come from local.conf).
    if initialize_database_backends; then
        define_database_baseurl
    fi
    save_stackenv $LINENO

    # stack.sh: "Extras Pre-install".
    run_phase stack pre-install

    # stack.sh: "Install Packages" configures Keystone before the plugins'
    # install phase; of configure_keystone, only the line that sets
    # Keystone's notification transport matters to a plugin (the rest
    # writes uWSGI and Apache files outside the sandbox).
    sudo install -d -o "$STACK_USER" "$KEYSTONE_CONF_DIR"
    install -m 600 /dev/null "$KEYSTONE_CONF"
    iniset_rpc_backend keystone "$KEYSTONE_CONF" oslo_messaging_notifications

    # stack.sh: "Extras Install".
    run_phase stack install

    # stack.sh: write_clouds_yaml, then OS_CLOUD; Keystone is running from
    # here on (the test points OS_CLIENT_CONFIG_FILE at one).
    export OS_CLOUD=${OS_CLOUD:-devstack-admin}

    # stack.sh: "Extras Configuration", "Run extras", "Run test-config".
    run_phase stack post-config
    run_phase stack extra
    run_phase stack test-config
}

function unstack {
    # unstack.sh, top to "Run extras".
    source "$TOP_DIR/functions"
    source "$TOP_DIR/lib/database"
    source "$TOP_DIR/openrc"
    DATA_DIR=${DATA_DIR:-${DEST}/data}
    GetDistro
    run_phase override_defaults
    local lib
    for lib in apache tls infra lvm horizon keystone glance nova placement \
        cinder swift neutron ldap dstat atop tcpdump etcd3; do
        source "$TOP_DIR/lib/$lib"
    done
    load_plugin_settings
    set -o xtrace
    run_phase unstack
}

function clean {
    # clean.sh, top to "Run extras".
    source "$TOP_DIR/functions"
    source "$TOP_DIR/openrc"
    if [[ -r $TOP_DIR/.stackenv ]]; then
        source "$TOP_DIR/.stackenv"
    fi
    GetDistro
    local lib
    for lib in apache ldap database rpc_backend tls libraries lvm horizon \
        keystone glance nova placement cinder swift neutron; do
        source "$TOP_DIR/lib/$lib"
    done
    set -o xtrace
    # "Let unstack.sh do its thing first"
    bash "${BASH_SOURCE[0]}" "$TOP_DIR" unstack
    load_plugin_settings
    run_phase clean
}

case $MODE in
    stack|unstack|clean) $MODE ;;
    *) echo "usage: $0 TOP_DIR stack|unstack|clean" >&2; exit 2 ;;
esac
