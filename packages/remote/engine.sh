#!/usr/bin/env bash
# The host release engine of ec2-deploy-actions: what runs on each EC2 host when ssm-deploy
# sends its SSM command.
#
# Layout under the deploy dir (Capistrano's, driven over SSM):
#   releases/<id>/        one complete, extracted release each (<id> = UTC time + '-' + version)
#   releases/<id>.partial staging while extracting; anything named *.partial is garbage
#   current -> releases/<id>  switched atomically with a temp link and rename(2)
#   shared/               files and dirs linked into every release (.env, certs, logs)
#   .deploy/              root-only (0700): the engine's state, never reachable by run-as
#   .deploy/lock          flock; the holder writes its run URL, version and start time inside
#   .deploy/history.jsonl one line per outcome: release, version, sha256, run, status (trimmed)
#   .deploy/logs/         full output of the hooks, one file per run (0600)
#   .deploy/slots         blue-green: the live slot and the release each slot runs
#
# Root never follows a path that run-as can change: the deploy dir, .deploy, releases and
# shared must be real directories owned by the engine's user and not group/world-writable;
# a release is handed to run-as only once shared paths are linked into it; state files are
# written to a temp file in .deploy and renamed.
#
# The renderer (packages/remote/src/render.ts) writes a preamble of single-quoted EC2D_*
# assignments in front of this file and starts it with bash. Every value is validated
# there and again here. Output is kept short on purpose: SSM returns only the first 24,000
# characters of stdout, and the last line must be the DEPLOY_RESULT line.

# Options (set by the preamble). Hooks are shell code by design; the rest are plain values.
: "${EC2D_MODE:=deploy}"               # deploy | rollback
: "${EC2D_DEPLOY_DIR:=}"               # absolute, normalised path
: "${EC2D_APP_NAME:=}"
: "${EC2D_VERSION:=}"                  # required in deploy mode; optional in rollback mode
: "${EC2D_ENVIRONMENT:=}"
: "${EC2D_ARTIFACT_URI:=}"             # s3://bucket/key or https://... (presigned)
: "${EC2D_ARTIFACT_SHA256:=}"
: "${EC2D_DOWNLOAD:=instance-role}"    # instance-role | presigned
: "${EC2D_RUN_AS:=}"                   # empty: the user running this script
: "${EC2D_SHARED_PATHS:=}"             # one relative path a line; a trailing / means a directory
: "${EC2D_BEFORE_SWITCH:=}"
: "${EC2D_STOP_COMMAND:=}"
: "${EC2D_RESTART_COMMAND:=}"
: "${EC2D_HEALTH_COMMAND:=}"
: "${EC2D_HEALTH_URL:=}"
: "${EC2D_HEALTH_VERSION:=true}"       # health-url must report the version of the release checked
: "${EC2D_HEALTH_RETRIES:=10}"         # attempts in all
: "${EC2D_HEALTH_INTERVAL_MS:=2000}"   # first delay; doubles up to 4x
: "${EC2D_KEEP_RELEASES:=5}"
: "${EC2D_LOCK_TIMEOUT_MS:=600000}"
: "${EC2D_ALLOW_DOWNGRADE:=false}"
: "${EC2D_RUN_URL:=}"                  # the GitHub run, for the lock holder and the history
: "${EC2D_COMMIT:=}"                   # the commit the release was built from, for REVISION
: "${EC2D_STRATEGY:=in-place}"         # in-place | blue-green (two slots behind the host's proxy)
: "${EC2D_SLOT_PORTS:=8081,8082}"      # blue-green: the ports of the blue and the green slot
: "${EC2D_PROXY_UPSTREAM_FILE:=}"      # blue-green: the file the proxy includes, rewritten at each switch
: "${EC2D_PROXY_RELOAD_COMMAND:=nginx -t -q && nginx -s reload}" # blue-green: run as root after a switch
: "${EC2D_DRAIN_TIME_MS:=10000}"       # blue-green: wait after the switch before the old slot stops
: "${EC2D_KEEP_OLD_SLOT:=false}"       # blue-green: keep the old slot running until the next deploy

# Exit codes. Never 194: that code makes the SSM agent reboot the host.
readonly EXIT_OK=0               # deployed, or a no-op re-deploy (status tells which)
readonly EXIT_FAILED=10          # failed before the switch: current, shared/ and service untouched
readonly EXIT_LOCK_TIMEOUT=11    # another deploy held the lock too long: nothing changed
readonly EXIT_ROLLED_BACK=20     # failed after the switch; the previous release serves, healthy
readonly EXIT_ROLLBACK_FAILED=21 # failed after the switch and the way back failed: needs a human
readonly EXIT_INTERNAL=70        # the engine itself broke; state unknown

readonly RELEASE_ID_RE='^[0-9]{8}T[0-9]{9}Z-[A-Za-z0-9][A-Za-z0-9._+-]*$'
readonly VERSION_RE='^[A-Za-z0-9][A-Za-z0-9._+-]*$'
readonly NAME_RE='^[A-Za-z0-9][A-Za-z0-9._-]*$'
readonly USER_RE='^[a-z_][a-z0-9_-]*[$]?$'
readonly PATH_RE='^(/[A-Za-z0-9._-]+)+$'
readonly REL_PATH_RE='^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*/?$'
readonly SHA_RE='^[0-9a-f]{64}$'
readonly S3_URI_RE='^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[A-Za-z0-9!_.*()/+=@,-]+$'
# Presigned URLs: https, or plain http to this host's loopback (the local sandbox's S3).
readonly HTTPS_URI_RE='^(https://[A-Za-z0-9.-]+|http://(127\.0\.0\.1|localhost))(:[0-9]{1,5})?/[A-Za-z0-9._~%!$&()*+,;=:@/?-]*$'
# In blue-green, {port} in health-url stands for the port of the slot being checked.
readonly HEALTH_URL_RE='^https?://[A-Za-z0-9.-]+(:([0-9]{1,5}|\{port\}))?(/[A-Za-z0-9._~%!$&()*+,;=:@/?-]*)?$'
readonly RUN_URL_RE='^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?/[A-Za-z0-9._~%/-]*$'
readonly COMMIT_RE='^[0-9a-f]{7,64}$'
readonly DISK_MARGIN_BYTES=$((32 * 1024 * 1024))
readonly TAIL_LINES=12 TAIL_WIDTH=200
# Past HISTORY_MAX_LINES, the history keeps the lines of releases still on disk and the newest
# HISTORY_KEEP_LINES of the rest: an audit trail that cannot fill the disk over years of deploys.
readonly HISTORY_MAX_LINES=1000 HISTORY_KEEP_LINES=500
# SSM keeps the first 24,000 characters of stdout. Everything printed before the result line
# stays within OUTPUT_BUDGET (the rest goes to the log only); the result line's free text is cut
# to REASON_MAX and at most WARNINGS_MAX warnings of WARNING_MAX characters.
readonly OUTPUT_BUDGET=12000 REASON_MAX=1500 WARNINGS_MAX=5 WARNING_MAX=300
# Of a health-url answer, the first HEALTH_BODY_MAX bytes are read; a body that splits into
# more than HEALTH_JSON_PARTS parts at '"' (about half as many strings) is not read as JSON,
# which bash does at some 30 microseconds a part (the headers and the text still count).
readonly HEALTH_BODY_MAX=65536 HEALTH_JSON_PARTS=16384

# The engine's own state is private; release trees and shared/ get umask 022 where made.
umask 077
# Byte-wise matching for the checks below, whatever the host's locale; hooks get theirs back.
if [[ -n ${LC_ALL+set} ]]; then HOOK_LOCALE=(env "LC_ALL=$LC_ALL"); else HOOK_LOCALE=(env -u LC_ALL); fi
export LC_ALL=C
export PATH="${PATH:-/usr/bin:/bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
shopt -s nullglob

# Result fields and run state.
R_PREV_VERSION='' R_VERSION='' R_RELEASE='' R_PREV_RELEASE='' RESULT_DONE=''
PHASE='' PHASE_START=0 PHASES='' NOW_MS=0 START_MS=0
LOCK_FD='' LOG_FILE=/dev/null CUR_ID='' NEW_ID='' SWITCHED='' LOCK_HELD='' RUN_AS_OTHER='' HOOK_RC=0 ARTIFACT=''
HEALTH_PROBLEM='' SERVED=''
# Blue-green: the slot a hook or health check acts on (empty in-place), the live slot, the
# release each slot runs ('' when stopped), and the upstream file as it was before this run.
SLOT='' LIVE_SLOT='' UPSTREAM_BEFORE='' OLD_SLOT='' OLD_RELEASE='' NEW_SLOT=''
declare -A SLOT_PORTS=() SLOT_RELEASE=([blue]='' [green]='')
OUT_CHARS=0 OUT_HELD=0
declare -A STATUS=()
declare -a WARNINGS=()

# --- small helpers -----------------------------------------------------------------------

now_ms() {
  if [[ -n ${EPOCHREALTIME:-} ]]; then
    local t=${EPOCHREALTIME//[!0-9]/}
    NOW_MS=${t:0:${#t}-3}
  else
    NOW_MS=$(date +%s%3N)
  fi
}

ms_to_s() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

# Prints a line within OUTPUT_BUDGET; past it, lines go to the run's log only and are counted.
log() {
  local line="$*"
  if ((OUT_CHARS + ${#line} + 1 > OUTPUT_BUDGET)); then
    OUT_HELD=$((OUT_HELD + 1))
    printf '%s\n' "$line" >>"$LOG_FILE"
    return 0
  fi
  OUT_CHARS=$((OUT_CHARS + ${#line} + 1))
  printf '%s\n' "$line"
}

# A warning: printed (within the budget) and listed in the result line (at most WARNINGS_MAX).
warn() {
  log "warning: $1"
  ((${#WARNINGS[@]} < WARNINGS_MAX)) && WARNINGS+=("${1:0:WARNING_MAX}")
  return 0
}

# A JSON string literal for $1 (control characters other than \n \r \t are dropped).
json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  s=${s//[[:cntrl:]]/}
  printf '"%s"' "$s"
}

# Starts a phase: closes the previous one's timer and prints a marker line.
phase() {
  end_phase
  now_ms
  PHASE=$1 PHASE_START=$NOW_MS
  printf '::deploy-phase:: %s\n' "$1"
}

end_phase() {
  [[ -n $PHASE ]] || return 0
  now_ms
  PHASES+="${PHASES:+,}\"$PHASE\":$((NOW_MS - PHASE_START))"
  PHASE=''
}

# Prints the result line and exits: finish STATUS CODE REASON.
finish() {
  local status=$1 code=$2 reason=${3:0:REASON_MAX} rolled=false mode=deploy warning warnings=''
  [[ $EC2D_MODE == rollback ]] && mode=rollback
  end_phase
  now_ms
  [[ $status == rolled-back ]] && rolled=true
  RESULT_DONE=1
  if [[ -n $LOCK_HELD ]]; then
    # Only the lock holder may remove these: a download and any half-made release.
    rm -rf -- "$EC2D_DEPLOY_DIR/.deploy/tmp" "$(releases_dir)"/*.partial
  fi
  ((OUT_HELD == 0)) || printf '(%d more lines in %s)\n' "$OUT_HELD" "$LOG_FILE"
  [[ -n $reason ]] && printf '%s: %s\n' "$status" "$reason"
  for warning in "${WARNINGS[@]}"; do warnings+="${warnings:+,}$(json_str "$warning")"; done
  printf 'DEPLOY_RESULT {"status":%s,"mode":%s,"exit-code":%d,"previous-version":%s,"version":%s,"release":%s,"previous-release":%s,"rolled-back":%s,"reason":%s,"duration-ms":%d,"phases":{%s},"warnings":[%s]}\n' \
    "$(json_str "$status")" "$(json_str "$mode")" "$code" "$(json_str "$R_PREV_VERSION")" \
    "$(json_str "$R_VERSION")" "$(json_str "$R_RELEASE")" "$(json_str "$R_PREV_RELEASE")" \
    "$rolled" "$(json_str "$reason")" $((NOW_MS - START_MS)) "$PHASES" "$warnings"
  exit "$code"
}

# Any exit that did not go through finish still ends with a result line.
# shellcheck disable=SC2317 # invoked by the EXIT trap
on_exit() {
  local code=$?
  [[ -n $RESULT_DONE ]] && return
  trap - EXIT
  finish error "$EXIT_INTERNAL" "the engine stopped unexpectedly (status $code) in phase '${PHASE:-start}'"
}

# Prints the last lines of the log written since byte offset $1, indented, cut to width.
print_log_tail() {
  local offset=$1 line
  local -a lines=()
  mapfile -t lines < <(tail -c "+$((offset + 1))" -- "$LOG_FILE" 2>/dev/null | tail -n "$TAIL_LINES" | cut -c "1-$TAIL_WIDTH")
  for line in "${lines[@]}"; do log "  | $line"; done
}

file_size() { stat -c %s -- "$1" 2>/dev/null || echo 0; }

releases_dir() { printf '%s/releases' "$EC2D_DEPLOY_DIR"; }

version_of() { printf '%s' "${1:20}"; }

# --- option checks (the renderer already validated; this is the second line of defence) ---

fail_option() { finish failed "$EXIT_FAILED" "option $1 $(json_str "$2") is not valid: $3"; }

validate_options() {
  [[ $EC2D_MODE == deploy || $EC2D_MODE == rollback ]] || fail_option mode "$EC2D_MODE" 'use deploy or rollback'
  [[ $EC2D_DEPLOY_DIR =~ $PATH_RE && ! $EC2D_DEPLOY_DIR =~ (^|/)\.\.?(/|$) ]] ||
    fail_option deploy-dir "$EC2D_DEPLOY_DIR" 'use an absolute, normalised path'
  [[ -z $EC2D_VERSION || $EC2D_VERSION =~ $VERSION_RE ]] || fail_option version "$EC2D_VERSION" 'not a version'
  [[ $EC2D_MODE == rollback || -n $EC2D_VERSION ]] || fail_option version '' 'required in deploy mode'
  [[ -z $EC2D_APP_NAME || $EC2D_APP_NAME =~ $NAME_RE ]] || fail_option app-name "$EC2D_APP_NAME" 'not a name'
  [[ -z $EC2D_ENVIRONMENT || $EC2D_ENVIRONMENT =~ $NAME_RE ]] ||
    fail_option environment "$EC2D_ENVIRONMENT" 'not an environment name'
  [[ -z $EC2D_RUN_AS || $EC2D_RUN_AS =~ $USER_RE ]] || fail_option run-as "$EC2D_RUN_AS" 'not a user name'
  [[ $EC2D_DOWNLOAD == instance-role || $EC2D_DOWNLOAD == presigned ]] ||
    fail_option download "$EC2D_DOWNLOAD" 'use instance-role or presigned'
  if [[ -n $EC2D_ARTIFACT_URI ]]; then
    if [[ $EC2D_DOWNLOAD == instance-role ]]; then
      [[ $EC2D_ARTIFACT_URI =~ $S3_URI_RE ]] || fail_option artifact-uri "$EC2D_ARTIFACT_URI" 'use s3://bucket/key'
    else
      [[ $EC2D_ARTIFACT_URI =~ $HTTPS_URI_RE ]] || fail_option artifact-uri "$EC2D_ARTIFACT_URI" 'use an https URL'
    fi
    [[ $EC2D_ARTIFACT_SHA256 =~ $SHA_RE ]] || fail_option artifact-sha256 "$EC2D_ARTIFACT_SHA256" 'use 64 hex digits'
  elif [[ $EC2D_MODE == deploy ]]; then
    fail_option artifact-uri '' 'required in deploy mode'
  fi
  [[ -z $EC2D_HEALTH_URL || $EC2D_HEALTH_URL =~ $HEALTH_URL_RE ]] ||
    fail_option health-url "$EC2D_HEALTH_URL" 'use an http(s) URL'
  [[ -z $EC2D_RUN_URL || $EC2D_RUN_URL =~ $RUN_URL_RE ]] || fail_option run-url "$EC2D_RUN_URL" 'use an https URL'
  [[ -z $EC2D_COMMIT || $EC2D_COMMIT =~ $COMMIT_RE ]] || fail_option commit "$EC2D_COMMIT" 'use 7 to 64 lower-case hex digits'
  local name value
  for name in HEALTH_RETRIES HEALTH_INTERVAL_MS KEEP_RELEASES LOCK_TIMEOUT_MS; do
    value=EC2D_$name
    name=${name%_MS}
    name=${name,,}
    [[ ${!value} =~ ^[0-9]{1,9}$ ]] || fail_option "${name//_/-}" "${!value}" 'use a whole number'
  done
  ((EC2D_HEALTH_RETRIES >= 1)) || fail_option health-retries "$EC2D_HEALTH_RETRIES" 'at least 1'
  ((EC2D_KEEP_RELEASES >= 1)) || fail_option keep-releases "$EC2D_KEEP_RELEASES" 'at least 1'
  [[ $EC2D_ALLOW_DOWNGRADE == true || $EC2D_ALLOW_DOWNGRADE == false ]] ||
    fail_option allow-downgrade "$EC2D_ALLOW_DOWNGRADE" 'use true or false'
  [[ $EC2D_HEALTH_VERSION == true || $EC2D_HEALTH_VERSION == false ]] ||
    fail_option health-version "$EC2D_HEALTH_VERSION" 'use true or false'
  local path
  while IFS= read -r path; do
    [[ -z $path ]] && continue
    [[ $path =~ $REL_PATH_RE && ! $path =~ (^|/)\.\.?(/|$) && $path != .deploy-release.json ]] ||
      fail_option shared-paths "$path" 'use relative paths without . or .. segments'
  done <<<"$EC2D_SHARED_PATHS"
  validate_strategy
}

validate_strategy() {
  local placeholder=''
  [[ $EC2D_HEALTH_URL == *'{port}'* ]] && placeholder=1
  if [[ $EC2D_STRATEGY == in-place ]]; then
    [[ -z $placeholder ]] || fail_option health-url "$EC2D_HEALTH_URL" '{port} is for strategy blue-green only'
    return 0
  fi
  [[ $EC2D_STRATEGY == blue-green ]] || fail_option strategy "$EC2D_STRATEGY" 'use in-place or blue-green'
  [[ -z $EC2D_HEALTH_URL || -n $placeholder ]] ||
    fail_option health-url "$EC2D_HEALTH_URL" 'with blue-green, write the port as {port} (http://127.0.0.1:{port}/health): each slot is checked on its own port'
  local blue green
  IFS=, read -r blue green <<<"$EC2D_SLOT_PORTS"
  if [[ ! $blue =~ ^[1-9][0-9]{0,4}$ || ! $green =~ ^[1-9][0-9]{0,4}$ ]] || ((blue > 65535 || green > 65535 || blue == green)); then
    fail_option slot-ports "$EC2D_SLOT_PORTS" 'use two distinct ports from 1 to 65535, blue first: 8081,8082'
  fi
  SLOT_PORTS=([blue]=$blue [green]=$green)
  [[ $EC2D_PROXY_UPSTREAM_FILE =~ $PATH_RE && ! $EC2D_PROXY_UPSTREAM_FILE =~ (^|/)\.\.?(/|$) ]] ||
    fail_option proxy-upstream-file "$EC2D_PROXY_UPSTREAM_FILE" 'use an absolute, normalised path'
  [[ -n $EC2D_RESTART_COMMAND ]] ||
    fail_option restart-command '' 'required with blue-green: it starts the release on the port in DEPLOY_PORT'
  [[ $EC2D_DRAIN_TIME_MS =~ ^[0-9]{1,9}$ ]] || fail_option drain-time "$EC2D_DRAIN_TIME_MS" 'use a whole number'
  [[ $EC2D_KEEP_OLD_SLOT == true || $EC2D_KEEP_OLD_SLOT == false ]] ||
    fail_option keep-old-slot "$EC2D_KEEP_OLD_SLOT" 'use true or false'
}

# --- lock ----------------------------------------------------------------------------------

# Refuses a directory (or a regular file) that root would trust while someone else could
# change it: a symlink, not owned by the engine's user, or group/world-writable.
# check_trusted LABEL PATH directory|file
check_trusted() {
  local label=$1 path=$2 kind=$3 owner mode
  [[ ! -L $path ]] || finish failed "$EXIT_FAILED" "$label $path is a symlink: use a real $kind"
  if [[ $kind == file ]]; then
    [[ -f $path ]] || finish failed "$EXIT_FAILED" "$label $path is not a regular file"
  else
    [[ -d $path ]] || finish failed "$EXIT_FAILED" "$label $path is not a directory"
  fi
  read -r owner mode < <(stat -c '%u %a' -- "$path")
  [[ $owner == "$EUID" ]] ||
    finish failed "$EXIT_FAILED" "$label $path is owned by uid $owner, not by uid $EUID that runs the engine: chown it to $(id -un)"
  ((8#$mode & 8#022)) &&
    finish failed "$EXIT_FAILED" "$label $path is group- or world-writable (mode $mode): chmod go-w it"
  return 0
}

check_trusted_dir() { check_trusted "$1" "$2" directory; }

# The deploy dir and its root-only .deploy/, checked before anything inside is opened.
prepare_state_dir() {
  local dir=$EC2D_DEPLOY_DIR/.deploy
  (umask 022 && mkdir -p -- "$EC2D_DEPLOY_DIR") 2>/dev/null ||
    finish failed "$EXIT_FAILED" "cannot create deploy-dir $EC2D_DEPLOY_DIR"
  check_trusted_dir deploy-dir "$EC2D_DEPLOY_DIR"
  # Another run may make it at the same moment: only a failure that left nothing is one.
  if [[ ! -e $dir && ! -L $dir ]] && ! mkdir -m 0700 -- "$dir" 2>/dev/null && [[ ! -e $dir ]]; then
    finish failed "$EXIT_FAILED" "cannot create $dir: is deploy-dir writable?"
  fi
  check_trusted_dir .deploy "$dir"
  # Older engines made it 0755.
  chmod 0700 -- "$dir" 2>/dev/null || finish failed "$EXIT_FAILED" "cannot make $dir private: is deploy-dir writable?"
}

acquire_lock() {
  phase lock
  prepare_state_dir
  local dir=$EC2D_DEPLOY_DIR/.deploy
  local lock_file=$dir/lock wait_s holder
  [[ ! -L $lock_file ]] || finish failed "$EXIT_FAILED" "$lock_file is a symlink: remove it"
  exec {LOCK_FD}<>"$lock_file" || finish failed "$EXIT_FAILED" "cannot open $lock_file"
  wait_s=$(ms_to_s "$EC2D_LOCK_TIMEOUT_MS")
  if ! flock -w "$wait_s" "$LOCK_FD"; then
    local attempt
    for attempt in 1 2 3 4 5; do
      holder=$(head -c 400 -- "$lock_file" 2>/dev/null | tr -d '\000-\037')
      holder=${holder%"${holder##*[! ]}"}
      [[ -n $holder ]] && break
      sleep 0.05
    done
    finish failed "$EXIT_LOCK_TIMEOUT" \
      "another deploy held $lock_file for more than ${wait_s}s; holder: ${holder:-unknown}"
  fi
  LOCK_HELD=1
  # The kernel drops the flock when this process dies, even by SIGKILL; the text names the
  # holder for whoever times out. One fixed-size write in place through the locked descriptor
  # (no truncation, no second open by name), so a reader never sees it empty or half-written.
  local record
  record=$(printf 'run %s version %s started %s pid %s' "${EC2D_RUN_URL:-unknown}" \
    "${EC2D_VERSION:-rollback}" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$$")
  printf '%-399.399s\n' "$record" >&"$LOCK_FD"
}

# Leftovers of a killed run: only this lock holder may touch them, so they are garbage now.
clean_leftovers() {
  local releases leftover
  releases=$(releases_dir)
  { (umask 022 && mkdir -p -- "$releases" "$EC2D_DEPLOY_DIR/shared") && mkdir -p -- "$EC2D_DEPLOY_DIR/.deploy/logs"; } ||
    finish failed "$EXIT_FAILED" "cannot create the release layout under $EC2D_DEPLOY_DIR"
  check_trusted_dir releases "$releases"
  check_trusted_dir shared "$EC2D_DEPLOY_DIR/shared"
  for leftover in "$releases"/*.partial "$releases"/*.pruning "$EC2D_DEPLOY_DIR"/.current.tmp.* \
    "$EC2D_DEPLOY_DIR/.deploy/tmp" "$EC2D_DEPLOY_DIR"/.deploy/.history.* "$EC2D_DEPLOY_DIR"/.deploy/.slots.*; do
    rm -rf -- "$leftover"
  done
  # One log per run; the newest 30 are kept.
  local -a logs=("$EC2D_DEPLOY_DIR"/.deploy/logs/*.log)
  local i
  for ((i = 0; i < ${#logs[@]} - 29; i++)); do rm -f -- "${logs[i]}"; done
  LOG_FILE=$EC2D_DEPLOY_DIR/.deploy/logs/$(date -u +%Y%m%dT%H%M%S%3NZ)-$EC2D_MODE.log
  : >"$LOG_FILE" || finish failed "$EXIT_FAILED" "cannot write $LOG_FILE"
}

# --- preflight -----------------------------------------------------------------------------

preflight() {
  phase preflight
  local tool tools=(flock unzip sha256sum df stat mv ln tail cut)
  if [[ -n $EC2D_ARTIFACT_URI ]]; then
    if [[ $EC2D_DOWNLOAD == presigned ]]; then tools+=(curl); else tools+=(aws); fi
  fi
  [[ -n $EC2D_HEALTH_URL ]] && tools+=(curl)
  local found
  for tool in "${tools[@]}"; do
    # An executable regular file: for root, command -v also accepts files without any x bit.
    found=$(command -v "$tool" 2>/dev/null) || found=''
    if [[ ! -f $found || ! -x $found ]]; then
      finish failed "$EXIT_FAILED" "required tool '$tool' is not installed"
    fi
  done
  local probe=$EC2D_DEPLOY_DIR/.deploy/.write-probe.$$
  if ! : >"$probe" 2>/dev/null; then finish failed "$EXIT_FAILED" "deploy-dir $EC2D_DEPLOY_DIR is not writable"; fi
  rm -f -- "$probe"
  RUN_AS_OTHER=''
  if [[ -n $EC2D_RUN_AS && $EC2D_RUN_AS != "$(id -un)" ]]; then
    id -u -- "$EC2D_RUN_AS" >/dev/null 2>&1 || finish failed "$EXIT_FAILED" "run-as user '$EC2D_RUN_AS' does not exist"
    ((EUID == 0)) || finish failed "$EXIT_FAILED" "running hooks as '$EC2D_RUN_AS' needs root"
    command -v runuser >/dev/null 2>&1 || command -v setpriv >/dev/null 2>&1 ||
      finish failed "$EXIT_FAILED" "neither runuser nor setpriv is installed"
    RUN_AS_OTHER=1
  fi
  if [[ -n $EC2D_BEFORE_SWITCH$EC2D_STOP_COMMAND$EC2D_RESTART_COMMAND$EC2D_HEALTH_COMMAND ]] && ((EUID == 0)); then
    if [[ -z $EC2D_RUN_AS ]]; then
      warn 'hooks run as root because run-as is empty: set run-as to the app user, or to root to say so'
    elif [[ $EC2D_RUN_AS == root ]]; then
      log 'hooks run as root (run-as: root)'
    fi
  fi
  local free
  free=$(free_bytes)
  ((free >= DISK_MARGIN_BYTES)) ||
    finish failed "$EXIT_FAILED" "only $free bytes free under $EC2D_DEPLOY_DIR (need at least $DISK_MARGIN_BYTES)"
  local current=$EC2D_DEPLOY_DIR/current
  if [[ -e $current || -L $current ]] && [[ ! -L $current ]]; then
    finish failed "$EXIT_FAILED" "$current exists and is not a symlink: move it away first"
  fi
  [[ $EC2D_STRATEGY == in-place ]] || check_proxy
}

free_bytes() { df -Pk -- "$EC2D_DEPLOY_DIR" | awk 'NR == 2 { printf "%d", $4 * 1024 }'; }

# --- state: current release and history ------------------------------------------------------

read_state() {
  local target
  CUR_ID=''
  if target=$(readlink -- "$EC2D_DEPLOY_DIR/current" 2>/dev/null); then
    target=${target#releases/}
    if [[ $target =~ $RELEASE_ID_RE && -d $(releases_dir)/$target ]]; then
      CUR_ID=$target
    else
      log "warning: current points to '$target', which is not a release of this engine"
    fi
  fi
  R_PREV_RELEASE=$CUR_ID
  [[ -n $CUR_ID ]] && R_PREV_VERSION=$(version_of "$CUR_ID")
  local line re='"release":"([^"]*)".*"status":"([a-z]+)"'
  if [[ -f $(history_file) && ! -L $(history_file) ]]; then
    while IFS= read -r line; do
      [[ $line =~ $re ]] && STATUS[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
    done <"$(history_file)"
  fi
  [[ $EC2D_STRATEGY == in-place ]] || read_slots
}

history_file() { printf '%s/.deploy/history.jsonl' "$EC2D_DEPLOY_DIR"; }

# Replaces the history with stdin: a temp file with an unpredictable name in the root-only
# .deploy/, renamed over the old one. A kill leaves the old or the new file, never half of one,
# and no existing name is ever opened for writing.
replace_history() {
  local tmp
  tmp=$(mktemp -- "$EC2D_DEPLOY_DIR/.deploy/.history.XXXXXXXXXX") || return 1
  cat >"$tmp" && mv -f -- "$tmp" "$(history_file)"
}

# Appends one outcome to the history: record RELEASE STATUS.
record() {
  local id=$1 status=$2 sha
  sha=$(release_sha "$id")
  STATUS[$id]=$status
  {
    [[ ! -f $(history_file) || -L $(history_file) ]] || cat -- "$(history_file)"
    printf '{"time":%s,"release":%s,"version":%s,"sha256":%s,"run":%s,"mode":%s,"status":%s}\n' \
      "$(json_str "$(date -u +%Y-%m-%dT%H:%M:%SZ)")" "$(json_str "$id")" "$(json_str "$(version_of "$id")")" \
      "$(json_str "$sha")" "$(json_str "$EC2D_RUN_URL")" "$(json_str "$EC2D_MODE")" "$(json_str "$status")"
  } | replace_history || log "warning: cannot write $(history_file)"
}

# The sha256 a release was made from, as written in its .deploy-release.json (run-as owns the
# file, so a link is not followed, and nothing but 64 hex digits is taken from it).
release_sha() {
  local content re='"sha256":"([0-9a-f]{64})"' file
  file=$(releases_dir)/$1/.deploy-release.json
  [[ -f $file && ! -L $file ]] || return 0
  content=$(head -c 4096 -- "$file" 2>/dev/null) || return 0
  [[ $content =~ $re ]] && printf '%s' "${BASH_REMATCH[1]}"
}

# Well-formed release directories, oldest first (ids start with the UTC time).
list_releases() {
  local dir name
  for dir in "$(releases_dir)"/*/; do
    name=${dir%/}
    name=${name##*/}
    [[ $name =~ $RELEASE_ID_RE ]] && printf '%s\n' "$name"
  done | sort
}

newest_good() { # [version] [older-than-id] [excluded-id]
  local id found=''
  while IFS= read -r id; do
    [[ ${STATUS[$id]:-} == good ]] || continue
    [[ -z $1 || $(version_of "$id") == "$1" ]] || continue
    [[ -z $2 || $id < $2 ]] || continue
    [[ $id == "${3:-}" ]] && continue
    found=$id
  done < <(list_releases)
  printf '%s' "$found"
}

# --- hooks ---------------------------------------------------------------------------------

# Runs user shell code as run-as: run_hook NAME COMMAND RELEASE_ID, in the release, with the
# slot's DEPLOY_SLOT and DEPLOY_PORT in blue-green.
run_hook() {
  local name=$1 command=$2 id=$3
  [[ -n $command ]] || return 0
  local dir
  dir=$(releases_dir)/$id
  local -a vars=(
    "DEPLOY_VERSION=$(version_of "$id")" "DEPLOY_ENVIRONMENT=$EC2D_ENVIRONMENT"
    "DEPLOY_APP_NAME=$EC2D_APP_NAME" "DEPLOY_DIR=$EC2D_DEPLOY_DIR" "DEPLOY_RELEASE_DIR=$dir" "RELEASE_DIR=$dir"
    "SHARED_DIR=$EC2D_DEPLOY_DIR/shared"
    "PREVIOUS_RELEASE_DIR=${R_PREV_RELEASE:+$(releases_dir)/$R_PREV_RELEASE}"
  )
  [[ -z $SLOT ]] || vars+=("DEPLOY_SLOT=$SLOT" "DEPLOY_PORT=${SLOT_PORTS[$SLOT]}")
  exec_hook "$name" "$command" "$dir" "$RUN_AS_OTHER" "${vars[@]}"
}

# Runs shell code: exec_hook NAME COMMAND DIR AS_RUN_AS VAR=VALUE... (AS_RUN_AS empty: as the
# engine's user). Output goes to the run's log; on failure its tail is printed. The lock's
# descriptor is closed so that a service started here cannot keep the deploy dir locked.
exec_hook() {
  local name=$1 command=$2 dir=$3 as_run_as=$4 rc=0 offset
  shift 4
  local -a vars=("$@")
  offset=$(file_size "$LOG_FILE")
  printf '\n==> %s in %s (%s)\n' "$name" "$dir" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$LOG_FILE"
  if [[ -z $as_run_as ]]; then
    # SSM starts commands without HOME; tools such as npm and go need one.
    [[ -n ${HOME:-} ]] || vars+=("HOME=$(getent passwd "$(id -un)" | cut -d: -f6)")
    (cd -- "$dir" && umask 022 && exec "${HOOK_LOCALE[@]}" "${vars[@]}" bash -c "$command") </dev/null >>"$LOG_FILE" 2>&1 {LOCK_FD}>&- || rc=$?
  elif command -v runuser >/dev/null 2>&1; then
    (cd -- "$dir" && umask 022 && exec runuser -u "$EC2D_RUN_AS" -- "${HOOK_LOCALE[@]}" "${vars[@]}" bash -c "$command") \
      </dev/null >>"$LOG_FILE" 2>&1 {LOCK_FD}>&- || rc=$?
  else
    (cd -- "$dir" && umask 022 && exec setpriv --reuid="$EC2D_RUN_AS" --regid="$(id -g -- "$EC2D_RUN_AS")" --init-groups \
      "${HOOK_LOCALE[@]}" "HOME=$(getent passwd "$EC2D_RUN_AS" | cut -d: -f6)" "${vars[@]}" bash -c "$command") \
      </dev/null >>"$LOG_FILE" 2>&1 {LOCK_FD}>&- || rc=$?
  fi
  if ((rc != 0)); then
    log "$name failed with exit code $rc; last lines (full log: $LOG_FILE):"
    print_log_tail "$offset"
    HOOK_RC=$rc
    return 1
  fi
  log "$name: ok"
}

# Health gate: health-url and/or health-command must pass within health-retries attempts.
# HEALTH_PROBLEM says why the last attempt failed (for the log and the result's reason).
health_check() { # RELEASE_ID
  HEALTH_PROBLEM=''
  if [[ -z $EC2D_HEALTH_URL && -z $EC2D_HEALTH_COMMAND ]]; then
    log 'no health check configured: the restart is taken as healthy'
    return 0
  fi
  local attempt delay=$EC2D_HEALTH_INTERVAL_MS cap=$((EC2D_HEALTH_INTERVAL_MS * 4)) offset shown='' why
  for ((attempt = 1; attempt <= EC2D_HEALTH_RETRIES; attempt++)); do
    offset=$(file_size "$LOG_FILE")
    HEALTH_PROBLEM=''
    if health_once "$1"; then
      log "healthy (attempt $attempt of $EC2D_HEALTH_RETRIES)"
      return 0
    fi
    if ((attempt == EC2D_HEALTH_RETRIES)); then
      log "unhealthy after $attempt attempts: $HEALTH_PROBLEM; last lines (full log: $LOG_FILE):"
      print_log_tail "$offset"
      return 1
    fi
    # The reason when it changes, not at every attempt: retries must not fill the output.
    why=''
    [[ $HEALTH_PROBLEM == "$shown" ]] || why=": $HEALTH_PROBLEM" shown=$HEALTH_PROBLEM
    log "not healthy yet (attempt $attempt of $EC2D_HEALTH_RETRIES$why); next try in $(ms_to_s "$delay")s"
    sleep "$(ms_to_s "$delay")"
    delay=$((delay * 2 > cap ? cap : delay * 2))
  done
  return 1
}

health_once() { # RELEASE_ID
  if [[ -n $EC2D_HEALTH_URL ]]; then
    health_url_once "$(version_of "$1")" || return 1
  fi
  if [[ -n $EC2D_HEALTH_COMMAND ]]; then
    if ! run_hook health-command "$EC2D_HEALTH_COMMAND" "$1" >/dev/null; then
      HEALTH_PROBLEM="health-command failed with exit code $HOOK_RC"
      return 1
    fi
  fi
  return 0
}

# Text from the remote answer, fit to print: printable ASCII only, at most $2 characters.
remote_text() {
  local text=${1//[^[:print:]]/}
  ((${#text} <= $2)) || text="${text:0:$2-3}..."
  printf '%s' "$text"
}

# One GET of health-url: a 2xx (or 3xx) answer, which by default must report VERSION (the
# release being checked). The answer is hostile input: the body is kept to its first
# HEALTH_BODY_MAX bytes in the root-only .deploy/tmp, read as data only, and what of it is
# printed goes through remote_text.
health_url_once() { # VERSION
  local expected=$1 dir=$EC2D_DEPLOY_DIR/.deploy/tmp rc error
  local body=$dir/health-body headers=$dir/health-headers errors=$dir/health-errors
  if ! { mkdir -p -- "$dir" && rm -f -- "$body" "$headers" "$errors"; }; then
    HEALTH_PROBLEM="cannot write to $dir"
    return 1
  fi
  local url=$EC2D_HEALTH_URL
  [[ -z $SLOT ]] || url=${url//"{port}"/${SLOT_PORTS[$SLOT]}}
  printf '\n==> GET %s\n' "$url" >>"$LOG_FILE"
  curl -fsS --max-time 10 -D "$headers" -o - -- "$url" </dev/null 2>"$errors" {LOCK_FD}>&- |
    head -c "$HEALTH_BODY_MAX" >"$body" {LOCK_FD}>&-
  rc=${PIPESTATUS[0]}
  # 23: curl could not write on once head had the first HEALTH_BODY_MAX bytes: enough to read.
  ((rc == 23 && $(file_size "$body") >= HEALTH_BODY_MAX)) && rc=0
  if ((rc != 0)); then
    error=$(tail -n 1 -- "$errors" 2>/dev/null)
    error=${error#curl: }
    HEALTH_PROBLEM="health-url failed: $(remote_text "${error:-curl exit code $rc}" 200)"
    printf '%s\n' "$HEALTH_PROBLEM" >>"$LOG_FILE"
    return 1
  fi
  [[ $EC2D_HEALTH_VERSION == true ]] || return 0
  served_version "$body" "$headers" "$expected"
  if [[ -z $SERVED ]]; then
    HEALTH_PROBLEM="no version in the answer of health-url: report \"$expected\" as the JSON field version, a X-App-Version header or text in the body (from REVISION or \$DEPLOY_VERSION), or set health-version: false"
  elif [[ $SERVED != "$expected" ]]; then
    HEALTH_PROBLEM="health-url serves version $(json_str "$(remote_text "$SERVED" 64)"), not \"$expected\""
  else
    printf 'serves version "%s"\n' "$expected" >>"$LOG_FILE"
    return 0
  fi
  printf '%s\n' "$HEALTH_PROBLEM" >>"$LOG_FILE"
  return 1
}

# The version an answer reports, read as verify-health reads it by default: the top-level JSON
# field version, else the header X-App-Version, else X-Version, else EXPECTED when the body
# holds it as text. Sets SERVED ('' when none is found). served_version BODY HEADERS EXPECTED
served_version() {
  local body line name value
  SERVED=''
  body=$(tr -d '\000' <"$1")
  json_version "$body" && return 0
  for name in x-app-version x-version; do
    while IFS= read -r line; do
      line=${line%$'\r'}
      [[ ${line,,} == "$name":* ]] || continue
      value=${line#*:}
      value=${value#"${value%%[![:space:]]*}"}
      value=${value%"${value##*[![:space:]]}"}
      [[ -n $value ]] && SERVED=$value && return 0
    done < <(head -c "$HEALTH_BODY_MAX" -- "$2" | tr -d '\000')
  done
  [[ $body == *"$3"* ]] && SERVED=$3
  return 0
}

# The top-level field version of a JSON object (a string, number or boolean; the last one
# wins, as with JSON.parse): sets SERVED and succeeds, else fails. No JSON tool is assumed on
# the host: the text is split at '"' (one after an odd run of backslashes is inside a string),
# and the brackets outside strings give the depth. A key is a string followed by ':'.
# See HEALTH_JSON_PARTS for the limit.
json_version() { # BODY
  local body=$1 part brackets opens i j n depth=0 outside=1 closed='' key='' key_depth=0
  local wanted='' found='' value='' tail
  local -a parts=()
  [[ $body =~ ^[[:space:]]*\{ && $body =~ \}[[:space:]]*$ ]] || return 1
  IFS='"' read -r -d '' -a parts <<<"$body" || :
  n=${#parts[@]}
  ((n <= HEALTH_JSON_PARTS)) || return 1
  for ((i = 0; i < n; i++)); do
    part=${parts[i]}
    if ((outside)); then
      if [[ -n $key ]]; then
        if ((key_depth == 1)) && [[ $key == version && $part =~ ^[[:space:]]*:[[:space:]]*(.*)$ ]]; then
          value=${BASH_REMATCH[1]}
          if [[ -z $value ]]; then
            wanted=1
          elif [[ $value =~ ^(-?[0-9][0-9.eE+-]*|true|false)[[:space:]]*([,}]|$) ]]; then
            found=1 value=${BASH_REMATCH[1]}
          else
            found='' value='' # null, an object or an array: no version (a later one may be)
          fi
        fi
        key=''
      fi
      brackets=${part//[^\]\[\{\}]/}
      [[ -z $closed || -z $brackets ]] || return 1
      if ((${#brackets} <= 64)); then
        for ((j = 0; j < ${#brackets}; j++)); do
          [[ -z $closed ]] || return 1
          case ${brackets:j:1} in
            '{' | '[') depth=$((depth + 1)) ;;
            *) depth=$((depth - 1)) ;;
          esac
          ((depth >= 0)) || return 1
          ((depth > 0)) || closed=1
        done
      else
        opens=${brackets//[\]\}]/}
        depth=$((depth + 2 * ${#opens} - ${#brackets}))
        ((depth > 0 || (depth == 0 && i == n - 1))) || return 1
        ((depth > 0)) || closed=1
      fi
      outside=0
      continue
    fi
    [[ -z $closed ]] || return 1
    # A quote after an odd run of backslashes is escaped: the string goes on.
    while tail=${part##*[!\\]} && ((${#tail} % 2 == 1)); do
      ((i + 1 < n)) || return 1
      i=$((i + 1))
      part+="\"${parts[i]}"
    done
    if [[ -n $wanted ]]; then
      found=1 value=$part wanted=''
    else
      key=$part key_depth=$depth
    fi
    outside=1
  done
  [[ -n $closed && $outside == 0 && -n $found ]] || return 1
  SERVED=$value
}

# --- fetch, check, extract -----------------------------------------------------------------

fetch_artifact() { # sets ARTIFACT
  phase fetch
  local tmp=$EC2D_DEPLOY_DIR/.deploy/tmp offset rc=0
  mkdir -p -- "$tmp" || finish failed "$EXIT_FAILED" "cannot create $tmp"
  ARTIFACT=$tmp/artifact.zip
  offset=$(file_size "$LOG_FILE")
  if [[ $EC2D_DOWNLOAD == presigned ]]; then
    log "downloading ${EC2D_ARTIFACT_URI%%\?*} (presigned URL)"
    curl -fsS --retry 5 --retry-delay 1 --retry-connrefused --connect-timeout 10 --max-time 900 \
      -o "$ARTIFACT" -- "$EC2D_ARTIFACT_URI" </dev/null >>"$LOG_FILE" 2>&1 {LOCK_FD}>&- || rc=$?
  else
    log "downloading $EC2D_ARTIFACT_URI (instance role)"
    aws s3 cp --only-show-errors "$EC2D_ARTIFACT_URI" "$ARTIFACT" </dev/null >>"$LOG_FILE" 2>&1 {LOCK_FD}>&- || rc=$?
  fi
  if ((rc != 0)); then
    print_log_tail "$offset"
    finish failed "$EXIT_FAILED" "download of the artifact failed (exit code $rc)"
  fi
  phase verify
  local actual
  actual=$(sha256sum -- "$ARTIFACT" | cut -c1-64)
  [[ $actual == "$EC2D_ARTIFACT_SHA256" ]] ||
    finish failed "$EXIT_FAILED" "artifact sha256 mismatch: expected $EC2D_ARTIFACT_SHA256, got $actual"
  log "sha256 verified: $actual"
}

# Is the relative path $1 (already joined with a link's directory) inside the release?
stays_inside() {
  local -a parts kept=()
  local part
  IFS=/ read -r -a parts <<<"$1"
  for part in "${parts[@]}"; do
    case $part in
      '' | .) ;;
      ..) ((${#kept[@]} > 0)) || return 1; unset 'kept[${#kept[@]}-1]' ;;
      *) kept+=("$part") ;;
    esac
  done
  return 0
}

# Refuses a symlink entry whose target leaves the release: check_link NAME TARGET.
check_link() {
  local name=$1 target=$2 dir
  [[ $target != /* ]] || finish failed "$EXIT_FAILED" "archive refused: symlink $(json_str "$name") points to an absolute path"
  dir=$(dirname -- "$name")
  stays_inside "$dir/$target" ||
    finish failed "$EXIT_FAILED" "archive refused: symlink $(json_str "$name") points outside the release"
}

# Checks every entry name, and every symlink target, before anything is extracted. Names come
# exactly from `unzip -Z1`; each entry's type from its line of `unzip -Z -s`, which must end
# with that very name (both list the central directory in order).
check_archive() {
  local names duplicate name listing
  names=$(unzip -Z1 "$ARTIFACT" 2>&1) || finish failed "$EXIT_FAILED" "archive unreadable: ${names:0:200}"
  [[ -n $names ]] || finish failed "$EXIT_FAILED" 'archive is empty'
  local -a entries lines
  mapfile -t entries <<<"$names"
  for name in "${entries[@]}"; do
    if [[ $name == /* || $name =~ (^|/)\.\.(/|$) || $name == *\\* || $name == *[[:cntrl:]]* ]]; then
      finish failed "$EXIT_FAILED" "archive refused: entry $(json_str "$name") is absolute or leaves the release"
    fi
  done
  duplicate=$(sort <<<"$names" | uniq -d | head -n 1)
  [[ -z $duplicate ]] || finish failed "$EXIT_FAILED" "archive refused: entry $(json_str "$duplicate") appears twice"
  listing=$(unzip -Z -s "$ARTIFACT" 2>/dev/null) || finish failed "$EXIT_FAILED" 'archive unreadable: cannot list it'
  mapfile -t lines <<<"$listing"
  # The entries' lines are the ones just before the closing totals line.
  local first=$((${#lines[@]} - ${#entries[@]} - 1)) i line target
  ((first >= 0)) || finish failed "$EXIT_FAILED" 'archive refused: its listing does not match its names'
  for ((i = 0; i < ${#entries[@]}; i++)); do
    name=${entries[i]} line=${lines[first + i]}
    [[ $line == *" $name" ]] ||
      finish failed "$EXIT_FAILED" "archive refused: the listing of entry $(json_str "$name") does not match its name"
    [[ $line == l* ]] || continue
    [[ $name != *[][*?]* ]] || finish failed "$EXIT_FAILED" "archive refused: symlink $(json_str "$name") has a wildcard in its name"
    target=$(unzip -p "$ARTIFACT" "$name" 2>/dev/null) ||
      finish failed "$EXIT_FAILED" "archive refused: cannot read symlink $(json_str "$name")"
    check_link "$name" "$target"
  done
}

make_release_id() {
  local stamp
  while :; do
    stamp=$(date -u +%Y%m%dT%H%M%S%3NZ)
    NEW_ID=$stamp-$R_VERSION
    [[ -e $(releases_dir)/$NEW_ID || -e $(releases_dir)/$NEW_ID.partial ]] || return 0
    sleep 0.01
  done
}

# Download, verify, extract into releases/<id>.partial, check, link shared paths, rename.
build_release() {
  fetch_artifact
  phase extract
  check_archive
  local size uncompressed need free
  size=$(file_size "$ARTIFACT")
  uncompressed=$(unzip -Zt "$ARTIFACT" 2>/dev/null | grep -oE '[0-9]+ bytes uncompressed' | cut -d' ' -f1)
  need=$((2 * size > ${uncompressed:-0} ? 2 * size : ${uncompressed:-0}))
  need=$((need + DISK_MARGIN_BYTES))
  free=$(free_bytes)
  ((free >= need)) || finish failed "$EXIT_FAILED" "not enough disk: $free bytes free, $need needed"
  make_release_id
  R_RELEASE=$NEW_ID
  local partial
  partial=$(releases_dir)/$NEW_ID.partial
  # The release tree is readable by all, as unzip and a plain mkdir would make it.
  umask 022
  mkdir -- "$partial" || finish failed "$EXIT_FAILED" "cannot create $partial"
  local out rc=0
  out=$(unzip -qq -n "$ARTIFACT" -d "$partial" </dev/null 2>&1) || rc=$?
  if ((rc != 0)); then
    finish failed "$EXIT_FAILED" "unzip failed with exit code $rc: ${out:0:300}"
  fi
  local link
  while IFS= read -r -d '' link; do
    check_link "${link#"$partial"/}" "$(readlink -- "$link")"
  done < <(find "$partial" -type l -print0)
  local time
  time=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  rm -rf -- "$partial/.deploy-release.json" "$partial/REVISION"
  printf '{"app":%s,"version":%s,"sha256":%s,"run":%s,"environment":%s,"time":%s,"release":%s}\n' \
    "$(json_str "$EC2D_APP_NAME")" "$(json_str "$R_VERSION")" "$(json_str "$EC2D_ARTIFACT_SHA256")" \
    "$(json_str "$EC2D_RUN_URL")" "$(json_str "$EC2D_ENVIRONMENT")" \
    "$(json_str "$time")" "$(json_str "$NEW_ID")" >"$partial/.deploy-release.json"
  # What the app may read to know itself (Capistrano's REVISION, with the version and time too).
  printf 'version=%s\ncommit=%s\ntime=%s\nenvironment=%s\n' "$R_VERSION" "$EC2D_COMMIT" "$time" \
    "$EC2D_ENVIRONMENT" >"$partial/REVISION"
  phase link-shared
  # Linked while root alone owns the tree: run-as cannot swap a directory for a symlink meanwhile.
  link_shared "$partial"
  umask 077
  if [[ -n $RUN_AS_OTHER ]]; then
    chown -R -P -- "$EC2D_RUN_AS:" "$partial" || finish failed "$EXIT_FAILED" "cannot chown the release to $EC2D_RUN_AS"
  fi
  mv -T -- "$partial" "$(releases_dir)/$NEW_ID" || finish failed "$EXIT_FAILED" "cannot rename $partial"
  rm -rf -- "$EC2D_DEPLOY_DIR/.deploy/tmp"
  log "release $NEW_ID ready"
}

# Makes the directories above shared path $1 (root's, 0755) and refuses any that another
# user could change, since root is about to rename a seed into the last one.
shared_parents() {
  local path=$1 dir=$EC2D_DEPLOY_DIR/shared part
  local -a parts
  [[ $path == */* ]] || return 0
  IFS=/ read -r -a parts <<<"${path%/*}"
  for part in "${parts[@]}"; do
    dir+=/$part
    [[ -e $dir || -L $dir ]] || mkdir -- "$dir" || finish failed "$EXIT_FAILED" "cannot create ${dir#"$EC2D_DEPLOY_DIR"/}"
    check_trusted_dir "${dir#"$EC2D_DEPLOY_DIR"/} (above shared path $path)" "$dir"
  done
}

# A seed becomes run-as's, private: files 0600 (0700 if executable), directories 0700.
make_private() {
  chmod -R go-rwx -- "$1" || return 1
  [[ -z $RUN_AS_OTHER ]] || chown -R -P -- "$EC2D_RUN_AS:" "$1"
}

# Links each shared path into the release; seeds shared/ from the release when it lacks the
# path, and never overwrites what shared/ holds.
link_shared() {
  local release=$1 path shared=$EC2D_DEPLOY_DIR/shared
  while IFS= read -r path; do
    [[ -n $path ]] || continue
    local dir_only=''
    [[ $path == */ ]] && dir_only=1 && path=${path%/}
    if [[ ! -e $shared/$path && ! -L $shared/$path ]]; then
      shared_parents "$path"
      if [[ -e $release/$path && ! -L $release/$path ]]; then
        # Copy aside (in the root-only .deploy/), then rename: a killed copy never looks like a
        # seeded path.
        local seed=$EC2D_DEPLOY_DIR/.deploy/tmp/seed
        rm -rf -- "$seed"
        if ! { mkdir -p -- "${seed%/*}" && cp -a -- "$release/$path" "$seed" && make_private "$seed" &&
          mv -T -- "$seed" "$shared/$path"; }; then
          finish failed "$EXIT_FAILED" "cannot seed shared/$path from the release"
        fi
        log "seeded shared/$path from the release"
      elif [[ -n $dir_only ]]; then
        { mkdir -m 0700 -- "$shared/$path" && make_private "$shared/$path"; } ||
          finish failed "$EXIT_FAILED" "cannot create shared/$path"
      else
        warn "shared/$path does not exist yet; linking it anyway"
      fi
    fi
    rm -rf -- "${release:?}/$path"
    if ! { mkdir -p -- "$(dirname -- "$release/$path")" && ln -s -- "$shared/$path" "$release/$path"; }; then
      finish failed "$EXIT_FAILED" "cannot link shared/$path"
    fi
  done <<<"$EC2D_SHARED_PATHS"
}

# --- blue-green: two slots behind the host's proxy ------------------------------------------
#
# Each slot (blue, green) runs one release on its own port. A deploy starts the new release on
# the idle slot and checks it there while the live slot keeps serving; then the proxy's upstream
# file is rewritten (temp + rename) to the idle slot's port and the proxy reloaded gracefully;
# then, after drain-time, the old slot stops (or keeps running without traffic until the next
# deploy with keep-old-slot, so that a rollback is a switch of the proxy alone).
# .deploy/slots records the live slot and the release each slot runs.

slots_file() { printf '%s/.deploy/slots' "$EC2D_DEPLOY_DIR"; }

# Reads .deploy/slots (root-only); a slot's release counts only while it is on disk.
read_slots() {
  local file key value
  file=$(slots_file)
  [[ -f $file && ! -L $file ]] || return 0
  while IFS='=' read -r key value; do
    case $key in
      live) [[ $value == blue || $value == green ]] && LIVE_SLOT=$value ;;
      blue | green) [[ $value =~ $RELEASE_ID_RE && -d $(releases_dir)/$value ]] && SLOT_RELEASE[$key]=$value ;;
    esac
  done <"$file"
  return 0
}

write_slots() {
  local tmp
  if ! { tmp=$(mktemp -- "$EC2D_DEPLOY_DIR/.deploy/.slots.XXXXXXXXXX") &&
    printf 'live=%s\nblue=%s\ngreen=%s\n' "$LIVE_SLOT" "${SLOT_RELEASE[blue]}" "${SLOT_RELEASE[green]}" >"$tmp" &&
    mv -f -- "$tmp" "$(slots_file)"; }; then
    warn "cannot write $(slots_file)"
  fi
}

# Refuses the ancestors of $2 that another user could change: a symlink, not owned by root or
# the engine's user, or writable by others (a sticky directory such as /tmp excepted: nobody
# else may rename what root made in it). check_ancestors LABEL PATH
check_ancestors() {
  local label=$1 path=${2%/*} owner mode
  while [[ -n $path ]]; do
    [[ ! -L $path ]] || finish failed "$EXIT_FAILED" "$label: $path is a symlink: use real directories"
    read -r owner mode < <(stat -c '%u %a' -- "$path")
    [[ $owner == 0 || $owner == "$EUID" ]] ||
      finish failed "$EXIT_FAILED" "$label: $path is owned by uid $owner: root must own every directory above it"
    if ((8#$mode & 8#022 && !(8#$mode & 8#1000))); then
      finish failed "$EXIT_FAILED" "$label: $path is group- or world-writable (mode $mode): chmod go-w it"
    fi
    path=${path%/*}
  done
}

# The upstream file is rewritten by root: its directory and every one above must be root's,
# and the file, when it exists, a regular file of root's that nobody else may write.
check_proxy() {
  local file=$EC2D_PROXY_UPSTREAM_FILE dir
  dir=${file%/*}
  check_ancestors proxy-upstream-file "$dir"
  check_trusted_dir "the directory of proxy-upstream-file" "${dir:-/}"
  if [[ -e $file || -L $file ]]; then
    check_trusted proxy-upstream-file "$file" file
    UPSTREAM_BEFORE=$(head -c 65536 -- "$file")
  fi
  local leftover
  for leftover in "$dir/.${file##*/}".tmp.*; do rm -f -- "$leftover"; done
}

# Replaces the upstream file with $1: a temp file beside it, renamed over it.
write_upstream() {
  local file=$EC2D_PROXY_UPSTREAM_FILE tmp
  tmp=$(mktemp -- "${file%/*}/.${file##*/}.tmp.XXXXXXXXXX") || return 1
  if printf '%s\n' "$1" >"$tmp" && chmod 0644 -- "$tmp" && mv -fT -- "$tmp" "$file"; then return 0; fi
  rm -f -- "$tmp"
  return 1
}

upstream_of() { # SLOT
  printf '# The live slot of %s: %s. Written by ec2-deploy-actions at each switch; do not edit.\nserver 127.0.0.1:%s;' \
    "${EC2D_APP_NAME:-the app}" "$1" "${SLOT_PORTS[$1]}"
}

# The reload command is the operator's, run as root (not as run-as) outside any release.
reload_proxy() {
  exec_hook proxy-reload-command "$EC2D_PROXY_RELOAD_COMMAND" / '' "DEPLOY_APP_NAME=$EC2D_APP_NAME" \
    "DEPLOY_DIR=$EC2D_DEPLOY_DIR" "DEPLOY_SLOT=$SLOT" "DEPLOY_PORT=${SLOT:+${SLOT_PORTS[$SLOT]}}"
}

# Blue-green's switch_to: release $1 on the idle slot, checked there, then the proxy moves to
# it. A release that already runs on the idle slot and answers is switched to without a restart.
switch_slot() {
  local id=$1 idle=blue
  [[ $LIVE_SLOT == blue ]] && idle=green
  OLD_SLOT=$LIVE_SLOT OLD_RELEASE=$CUR_ID NEW_SLOT=$idle SLOT=$idle
  [[ -z $LIVE_SLOT ]] || OLD_RELEASE=${SLOT_RELEASE[$LIVE_SLOT]}
  [[ ${SLOT_RELEASE[$idle]} == "$id" ]] && phase health
  if [[ ${SLOT_RELEASE[$idle]} == "$id" ]] && health_once "$id"; then
    log "release $id already runs on the $idle slot: switching to it without a restart"
  else
    start_on_slot "$id"
  fi
  phase switch
  write_upstream "$(upstream_of "$idle")" || fail_on_slot "$id" "cannot write $EC2D_PROXY_UPSTREAM_FILE"
  reload_proxy || proxy_back "$id" "proxy-reload-command failed with exit code $HOOK_RC"
  LIVE_SLOT=$idle
  write_slots
  link_current "$id" || warn "cannot switch current to releases/$id"
  SWITCHED=1
  log "the proxy sends traffic to the $idle slot (port ${SLOT_PORTS[$idle]}): $(version_of "$id")"
}

# Stops whatever the idle slot runs, starts release $1 there and checks it on the slot's port.
start_on_slot() {
  local id=$1
  if [[ -n $EC2D_STOP_COMMAND ]]; then
    phase stop
    run_hook stop-command "$EC2D_STOP_COMMAND" "${SLOT_RELEASE[$SLOT]:-$id}" ||
      fail_on_slot "$id" "stop-command failed on the $SLOT slot with exit code $HOOK_RC"
  fi
  # Recorded first: a run killed from here on still knows what may run on the slot.
  SLOT_RELEASE[$SLOT]=$id
  write_slots
  phase restart
  run_hook restart-command "$EC2D_RESTART_COMMAND" "$id" ||
    fail_on_slot "$id" "restart-command failed on the $SLOT slot with exit code $HOOK_RC"
  phase health
  health_check "$id" ||
    fail_on_slot "$id" "health check failed on the $SLOT slot after $EC2D_HEALTH_RETRIES attempts: $HEALTH_PROBLEM"
}

# Before the proxy moved: stops the idle slot again and fails; the live slot served throughout.
fail_on_slot() { # ID REASON
  local id=$1 reason=$2
  record "$id" bad
  if [[ -n $EC2D_STOP_COMMAND ]]; then
    if run_hook stop-command "$EC2D_STOP_COMMAND" "$id"; then
      SLOT_RELEASE[$SLOT]=''
      write_slots
    else
      log "stop-command failed on the $SLOT slot; continuing"
    fi
  fi
  prune
  finish failed "$EXIT_FAILED" "$reason; the proxy still sends traffic where it did${R_PREV_VERSION:+ ($R_PREV_VERSION)}"
}

# The reload failed after the upstream file changed: the file as it was, reloaded again.
proxy_back() { # ID REASON
  local id=$1 reason=$2
  record "$id" bad
  phase rollback
  SLOT=$OLD_SLOT
  if [[ -n $UPSTREAM_BEFORE ]] && write_upstream "$UPSTREAM_BEFORE" && reload_proxy; then
    SLOT=$NEW_SLOT
    if [[ -n $EC2D_STOP_COMMAND ]] && run_hook stop-command "$EC2D_STOP_COMMAND" "$id"; then
      SLOT_RELEASE[$SLOT]=''
      write_slots
    fi
    prune
    finish rolled-back "$EXIT_ROLLED_BACK" "$reason; the proxy is back as it was${R_PREV_VERSION:+ ($R_PREV_VERSION)}"
  fi
  finish rollback-failed "$EXIT_ROLLBACK_FAILED" "$reason; and $EC2D_PROXY_UPSTREAM_FILE could not be restored and reloaded: check the proxy"
}

# After a switch: the old slot (or the in-place service before the first blue-green deploy)
# stops once drain-time has let its requests finish, unless keep-old-slot keeps it as a warm
# standby for a rollback.
retire_old_slot() {
  [[ $EC2D_STRATEGY == blue-green && -n $OLD_RELEASE && -n $EC2D_STOP_COMMAND ]] || return 0
  if [[ $EC2D_KEEP_OLD_SLOT == true && -n $OLD_SLOT ]]; then
    log "the $OLD_SLOT slot keeps running $(version_of "$OLD_RELEASE") without traffic until the next deploy"
    return 0
  fi
  phase drain
  sleep "$(ms_to_s "$EC2D_DRAIN_TIME_MS")"
  phase stop-old
  SLOT=$OLD_SLOT
  if run_hook stop-command "$EC2D_STOP_COMMAND" "$OLD_RELEASE"; then
    [[ -z $SLOT ]] || { SLOT_RELEASE[$SLOT]='' && write_slots; }
  else
    warn "stop-command failed on the ${SLOT:-old} slot with exit code $HOOK_RC: $(version_of "$OLD_RELEASE") may still run"
  fi
}

# --- switch, rollback, prune ---------------------------------------------------------------

# Points current at releases/$1 with a temp link and rename(2): never a moment without it.
# The temp name is unpredictable, in the deploy dir that only the engine's user may write.
link_current() {
  local tmp
  tmp=$(mktemp -u -- "$EC2D_DEPLOY_DIR/.current.tmp.XXXXXXXXXX") &&
    ln -s -- "releases/$1" "$tmp" && mv -T -- "$tmp" "$EC2D_DEPLOY_DIR/current"
}

# stop -> switch -> restart -> health for release $1; any failure goes to roll_back.
switch_to() {
  local id=$1
  if [[ $EC2D_STRATEGY == blue-green ]]; then
    switch_slot "$id"
    return
  fi
  if [[ -n $EC2D_STOP_COMMAND ]]; then
    phase stop
    run_hook stop-command "$EC2D_STOP_COMMAND" "${CUR_ID:-$id}" ||
      roll_back "stop-command failed with exit code $HOOK_RC"
  fi
  phase switch
  link_current "$id" || roll_back "cannot switch current to releases/$id"
  SWITCHED=1
  log "current -> releases/$id"
  phase restart
  run_hook restart-command "$EC2D_RESTART_COMMAND" "$id" ||
    roll_back "restart-command failed with exit code $HOOK_RC"
  phase health
  health_check "$id" || roll_back "health check failed after $EC2D_HEALTH_RETRIES attempts: $HEALTH_PROBLEM"
}

# After a failure at or after the switch: back to the release that was current, restart it,
# check it. Exits with EXIT_ROLLED_BACK or EXIT_ROLLBACK_FAILED.
roll_back() {
  local reason=$1 failed=$R_RELEASE
  [[ -n $failed ]] && record "$failed" bad
  phase rollback
  if [[ -z $CUR_ID || ! -d $(releases_dir)/$CUR_ID ]]; then
    finish rollback-failed "$EXIT_ROLLBACK_FAILED" "$reason; there is no previous release to return to"
  fi
  if [[ -n $SWITCHED && -n $EC2D_STOP_COMMAND ]]; then
    run_hook stop-command "$EC2D_STOP_COMMAND" "$failed" || log 'stop-command failed during the rollback; continuing'
  fi
  link_current "$CUR_ID" ||
    finish rollback-failed "$EXIT_ROLLBACK_FAILED" "$reason; cannot switch current back to releases/$CUR_ID"
  log "current -> releases/$CUR_ID (rolled back)"
  run_hook restart-command "$EC2D_RESTART_COMMAND" "$CUR_ID" ||
    finish rollback-failed "$EXIT_ROLLBACK_FAILED" "$reason; restarting $R_PREV_VERSION failed with exit code $HOOK_RC"
  phase rollback-health
  health_check "$CUR_ID" ||
    finish rollback-failed "$EXIT_ROLLBACK_FAILED" "$reason; $R_PREV_VERSION is unhealthy after the rollback ($HEALTH_PROBLEM)"
  prune
  finish rolled-back "$EXIT_ROLLED_BACK" "$reason; rolled back to $R_PREV_VERSION"
}

# Keeps at most keep-releases releases: never current nor the last good one; releases that
# are not recorded good go first, oldest first, so failures cannot push out good releases.
prune() {
  phase prune
  local -a all=() order=()
  local id current last_good count
  mapfile -t all < <(list_releases)
  count=${#all[@]}
  trim_history
  ((count > EC2D_KEEP_RELEASES)) || return 0
  current=$(readlink -- "$EC2D_DEPLOY_DIR/current" 2>/dev/null)
  current=${current#releases/}
  last_good=$(newest_good)
  for id in "${all[@]}"; do [[ ${STATUS[$id]:-} == good ]] || order+=("$id"); done
  for id in "${all[@]}"; do [[ ${STATUS[$id]:-} == good ]] && order+=("$id"); done
  for id in "${order[@]}"; do
    ((count > EC2D_KEEP_RELEASES)) || break
    [[ $id == "$current" || $id == "$last_good" || $id == "${SLOT_RELEASE[blue]}" || $id == "${SLOT_RELEASE[green]}" ]] && continue
    # Rename first: a killed removal leaves a *.pruning dir, never a half-deleted release.
    mv -T -- "$(releases_dir)/$id" "$(releases_dir)/$id.pruning" && rm -rf -- "$(releases_dir)/$id.pruning"
    log "pruned release $id"
    count=$((count - 1))
  done
}

# Rewrites a long history to a temp file and renames it over: a kill leaves the old or the new
# file, never a half-written one. Lines of releases on disk are kept whatever their age,
# because their statuses decide rollbacks and pruning.
trim_history() {
  local file releases line id i first_recent
  local re='"release":"([^"]*)"'
  local -a lines=()
  file=$(history_file)
  [[ -f $file && ! -L $file ]] || return 0
  mapfile -t lines <"$file"
  ((${#lines[@]} > HISTORY_MAX_LINES)) || return 0
  first_recent=$((${#lines[@]} - HISTORY_KEEP_LINES))
  releases=$(releases_dir)
  for ((i = 0; i < ${#lines[@]}; i++)); do
    line=${lines[i]} id=''
    [[ $line =~ $re ]] && id=${BASH_REMATCH[1]}
    if ((i >= first_recent)) || { [[ $id =~ $RELEASE_ID_RE ]] && [[ -d $releases/$id ]]; }; then
      printf '%s\n' "$line"
    fi
  done | replace_history && log "history trimmed from ${#lines[@]} lines to $(wc -l <"$file")"
}

# Is version $1 older than version $2? Compares only a leading [v]MAJOR.MINOR.PATCH, so
# builds of one base version (v1.2.3-main-abc1234) are never taken for downgrades.
is_older() {
  local re='^[vV]?([0-9]{1,9})\.([0-9]{1,9})\.([0-9]{1,9})' a b i
  [[ $1 =~ $re ]] || return 1
  a=("${BASH_REMATCH[@]:1}")
  [[ $2 =~ $re ]] || return 1
  b=("${BASH_REMATCH[@]:1}")
  for i in 0 1 2; do
    ((10#${a[i]} < 10#${b[i]})) && return 0
    ((10#${a[i]} > 10#${b[i]})) && return 1
  done
  return 1
}

# A re-deploy of what is current, recorded good, from the same artifact, and healthy: no-op.
noop_if_current() { # VERSION
  [[ -n $CUR_ID && $(version_of "$CUR_ID") == "$1" && ${STATUS[$CUR_ID]:-} == good ]] || return 0
  [[ -z $EC2D_ARTIFACT_SHA256 || $(release_sha "$CUR_ID") == "$EC2D_ARTIFACT_SHA256" ]] || return 0
  if [[ $EC2D_STRATEGY == blue-green ]]; then
    [[ -n $LIVE_SLOT && ${SLOT_RELEASE[$LIVE_SLOT]} == "$CUR_ID" ]] || return 0
    SLOT=$LIVE_SLOT
  fi
  phase health
  R_RELEASE=$CUR_ID
  if health_check "$CUR_ID"; then
    finish noop "$EXIT_OK" "$1 is already current and healthy"
  fi
  R_RELEASE='' SLOT=''
  log "$1 is current but unhealthy ($HEALTH_PROBLEM): deploying it again"
}

deploy_new() {
  build_release
  phase before-switch
  if ! run_hook before-switch "$EC2D_BEFORE_SWITCH" "$NEW_ID"; then
    record "$NEW_ID" failed
    prune
    finish failed "$EXIT_FAILED" "before-switch failed with exit code $HOOK_RC; current is unchanged"
  fi
  switch_to "$NEW_ID"
  phase record
  record "$NEW_ID" good
  retire_old_slot
  prune
  finish deployed "$EXIT_OK" ''
}

deploy_mode() {
  R_VERSION=$EC2D_VERSION
  noop_if_current "$R_VERSION"
  if [[ -n $CUR_ID && $EC2D_ALLOW_DOWNGRADE != true ]] && is_older "$R_VERSION" "$R_PREV_VERSION"; then
    finish failed "$EXIT_FAILED" "$R_VERSION is older than the current $R_PREV_VERSION: set allow-downgrade, or use mode rollback"
  fi
  deploy_new
}

rollback_mode() {
  local target
  if [[ -n $EC2D_VERSION ]]; then
    R_VERSION=$EC2D_VERSION
    noop_if_current "$R_VERSION"
    target=$(newest_good "$EC2D_VERSION" '' "$CUR_ID")
    if [[ -z $target ]]; then
      [[ -n $EC2D_ARTIFACT_URI ]] ||
        finish failed "$EXIT_FAILED" "$EC2D_VERSION is not on this host as a good release, and no artifact-uri was given"
      log "$EC2D_VERSION is not on this host: downloading it"
      deploy_new
    fi
  else
    [[ -n $CUR_ID ]] || finish failed "$EXIT_FAILED" 'nothing is deployed here, so there is nothing to roll back from'
    target=$(newest_good '' "$CUR_ID")
    [[ -n $target ]] || finish failed "$EXIT_FAILED" "no good release older than $CUR_ID is left on this host"
    R_VERSION=$(version_of "$target")
  fi
  R_RELEASE=$target
  log "rolling back to release $target"
  switch_to "$target"
  phase record
  record "$target" good
  retire_old_slot
  prune
  finish deployed "$EXIT_OK" "rolled back to $R_VERSION"
}

main() {
  now_ms
  START_MS=$NOW_MS
  trap on_exit EXIT
  ((BASH_VERSINFO[0] >= 4)) || finish failed "$EXIT_FAILED" "bash 4 or newer is required (found $BASH_VERSION)"
  validate_options
  R_VERSION=$EC2D_VERSION
  acquire_lock
  clean_leftovers
  preflight
  read_state
  if [[ $EC2D_MODE == rollback ]]; then rollback_mode; else deploy_mode; fi
}

main
