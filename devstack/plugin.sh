#!/bin/bash
#
# DevStack plugin for reaper: cleans up what deleted Keystone projects, users
# and domains leave behind.
#
# Phases:
#   stack install      install reaper (setup_develop)
#   stack post-config  service user, reaper.conf, reaper's queue, then Keystone
#                      notifications (and a Keystone restart)
#   stack extra        start reaper-controller
#   unstack            stop it
#   clean              remove its state and configuration

# Save trace setting
_XTRACE_REAPER=$(set +o | grep xtrace)
set -o xtrace

function install_reaper {
    setup_develop "$REAPER_DIR"
}

# create_reaper_accounts() - the service user reaper acts as: an admin,
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
    service_project=$(get_or_create_project "$SERVICE_PROJECT_NAME" default)
    iniset "$REAPER_CONF" DEFAULT protected_project_ids "$admin_project,$service_project"

    iniset "$REAPER_CONF" listener pool "$REAPER_POOL"
    iniset "$REAPER_CONF" listener exchange keystone
    iniset "$REAPER_CONF" listener topics notifications

    iniset "$REAPER_CONF" store connection "$(database_connection_url reaper)"
    recreate_database reaper

    iniset "$REAPER_CONF" service_credentials auth_type password
    iniset "$REAPER_CONF" service_credentials auth_url "$KEYSTONE_SERVICE_URI"
    iniset "$REAPER_CONF" service_credentials username reaper
    iniset "$REAPER_CONF" service_credentials password "$SERVICE_PASSWORD"
    iniset "$REAPER_CONF" service_credentials project_name "$SERVICE_PROJECT_NAME"
    iniset "$REAPER_CONF" service_credentials user_domain_id default
    iniset "$REAPER_CONF" service_credentials project_domain_id default
    iniset "$REAPER_CONF" service_credentials region_name "$REGION_NAME"

    iniset "$REAPER_CONF" sweep interval "$REAPER_SWEEP_INTERVAL"
    iniset "$REAPER_CONF" api host "$SERVICE_LISTEN_ADDRESS"
    iniset "$REAPER_CONF" api port "$REAPER_API_PORT"
}

# declare_reaper_queue() - reaper's queue must exist before Keystone emits,
# or a deletion made before the controller's first start is never heard.
function declare_reaper_queue {
    "$REAPER_BIN_DIR/reaper" --config-file "$REAPER_CONF" queue declare
}

# configure_keystone_notifications() - DevStack leaves Keystone's
# notifications off, and Keystone is already running at post-config: turn
# them on (iniset, so a rerun does not add duplicate topics) and restart it.
function configure_keystone_notifications {
    iniset "$KEYSTONE_CONF" oslo_messaging_notifications driver messagingv2
    iniset "$KEYSTONE_CONF" oslo_messaging_notifications topics notifications
    iniset "$KEYSTONE_CONF" oslo_messaging_notifications transport_url "$(get_notification_url)"
    iniset "$KEYSTONE_CONF" DEFAULT notification_format "$REAPER_NOTIFICATION_FORMAT"
    restart_service devstack@keystone
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
        install_reaper
    elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
        echo_summary "Configuring reaper"
        create_reaper_accounts
        configure_reaper
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
