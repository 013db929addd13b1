#!/bin/bash
#
# DevStack plugin for reaper: cleans up what deleted Keystone projects, users
# and domains leave behind.
#
# To enable it, add to local.conf:
#
#   [[local|localrc]]
#   enable_plugin reaper https://opendev.org/reaper/reaper
#
# Phases:
#   stack install      install reaper (setup_develop)
#   stack post-config  service user, reaper.conf, reaper's database and queue,
#                      then Keystone's notifications (and a Keystone restart)
#   stack extra        start reaper-controller (devstack@reaper-controller)
#   unstack            stop it
#   clean              remove its state and configuration

# Save trace setting
_XTRACE_REAPER=$(set +o | grep xtrace)
set -o xtrace

if [[ ${USE_VENV} = True ]]; then
    PROJECT_VENV["reaper"]=${REAPER_DIR}.venv
    REAPER_BIN_DIR=${PROJECT_VENV["reaper"]}/bin
else
    REAPER_BIN_DIR=$(get_python_exec_prefix)
fi

# is_reaper_enabled - whether any reaper-* service is enabled, so that
# `is_service_enabled reaper` means "the plugin has work to do".
function is_reaper_enabled {
    [[ ,${ENABLED_SERVICES} =~ ,"reaper-" ]] && return 0
    return 1
}

function install_reaper {
    setup_develop "$REAPER_DIR"
}

# create_reaper_accounts - the service user reaper acts as: an admin,
# because a token scoped to a deleted project cannot exist.
function create_reaper_accounts {
    create_service_user "reaper" "admin"
}

function configure_reaper {
    sudo install -d -o "$STACK_USER" -m 755 "$REAPER_CONF_DIR"
    sudo install -d -o "$STACK_USER" -m 700 "$REAPER_STATE_PATH"

    iniset "$REAPER_CONF" DEFAULT debug "$ENABLE_DEBUG_LOG_LEVEL"
    iniset "$REAPER_CONF" DEFAULT state_path "$REAPER_STATE_PATH"
    iniset "$REAPER_CONF" DEFAULT dry_run "$REAPER_DRY_RUN"
    iniset "$REAPER_CONF" DEFAULT transport_url "$(get_notification_url)"
    if [[ -n "$REAPER_POLICY_PATHS" ]]; then
        iniset "$REAPER_CONF" DEFAULT policy_paths "$REAPER_POLICY_PATHS"
    fi
    # Never touch what DevStack itself runs on.
    local admin_project
    local service_project
    admin_project=$(get_or_create_project "admin" default)
    service_project=$(get_or_create_project "$SERVICE_PROJECT_NAME" "$SERVICE_DOMAIN_NAME")
    iniset "$REAPER_CONF" DEFAULT protected_project_ids "$admin_project,$service_project"

    iniset "$REAPER_CONF" listener pool "$REAPER_POOL"
    iniset "$REAPER_CONF" listener exchange keystone
    iniset "$REAPER_CONF" listener topics notifications

    configure_keystoneauth "$REAPER_CONF" reaper service_credentials
    iniset "$REAPER_CONF" service_credentials region_name "$REGION_NAME"

    iniset "$REAPER_CONF" sweep interval "$REAPER_SWEEP_INTERVAL"
    iniset "$REAPER_CONF" api host "$SERVICE_LISTEN_ADDRESS"
    iniset "$REAPER_CONF" api port "$REAPER_API_PORT"
}

# init_reaper - reaper's database on DevStack's database server; the
# controller creates its schema when it starts.
function init_reaper {
    if is_service_enabled $DATABASE_BACKENDS; then
        recreate_database "$REAPER_DATABASE_NAME"
        iniset "$REAPER_CONF" store connection "$(database_connection_url "$REAPER_DATABASE_NAME")"
    fi
}

# declare_reaper_queue - reaper's queue must exist before Keystone emits,
# or a deletion made before the controller's first start is never heard.
function declare_reaper_queue {
    "$REAPER_BIN_DIR/reaper" --config-file "$REAPER_CONF" queue declare
}

# configure_keystone_notifications - DevStack leaves Keystone's
# notifications off, and Keystone is already running at post-config: turn
# them on and restart it. iniset replaces, so a rerun adds nothing twice;
# topics another plugin added are kept.
function configure_keystone_notifications {
    if ! is_service_enabled keystone; then
        warn $LINENO "Keystone runs elsewhere: enable its notifications there (see reaper's doc/install.md)"
        return
    fi
    local topics
    topics=$(iniget "$KEYSTONE_CONF" oslo_messaging_notifications topics)
    if [[ ! ,${topics}, =~ ,notifications, ]]; then
        topics=${topics:+$topics,}notifications
    fi
    iniset "$KEYSTONE_CONF" oslo_messaging_notifications driver messagingv2
    iniset "$KEYSTONE_CONF" oslo_messaging_notifications topics "$topics"
    iniset "$KEYSTONE_CONF" oslo_messaging_notifications transport_url "$(get_notification_url)"
    iniset "$KEYSTONE_CONF" DEFAULT notification_format "$REAPER_NOTIFICATION_FORMAT"
    # As lib/glance restarts its units: $SYSTEMCTL honours USER_UNITS.
    $SYSTEMCTL restart devstack@keystone
    if ! wait_for_service "$SERVICE_TIMEOUT" "$KEYSTONE_SERVICE_URI/v3/"; then
        die $LINENO "keystone did not come back after enabling its notifications"
    fi
}

function start_reaper {
    run_process reaper-controller "$REAPER_BIN_DIR/reaper-controller --config-file $REAPER_CONF"
}

function stop_reaper {
    stop_process reaper-controller
}

function cleanup_reaper {
    sudo rm -rf "$REAPER_STATE_PATH" "$REAPER_CONF_DIR"
}

if is_service_enabled reaper; then
    if [[ "$1" == "stack" && "$2" == "install" ]]; then
        echo_summary "Installing reaper"
        stack_install_service reaper
    elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
        echo_summary "Configuring reaper"
        create_reaper_accounts
        configure_reaper
        init_reaper
        declare_reaper_queue
        configure_keystone_notifications
    elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
        echo_summary "Starting reaper"
        start_reaper
    fi

    if [[ "$1" == "unstack" ]]; then
        stop_reaper
    fi

    if [[ "$1" == "clean" ]]; then
        cleanup_reaper
    fi
fi

# Restore xtrace
$_XTRACE_REAPER
