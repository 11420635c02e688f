#!/usr/bin/env bash
# The host status probe of ec2-deploy-actions: what the status action sends through SSM. It
# reads the engine's layout under the deploy dir (see engine.sh) and prints one line,
# `DEPLOY_STATUS {json}`: the live release, the releases on disk, the last line of the history,
# the lock holder while the lock is held, and the blue-green live slot.
#
# It only reads: it writes no file, makes no directory and takes no lock (whether the lock is
# held is read from /proc/locks). Root never follows a path the app user can change: the deploy
# dir, .deploy/ and releases/ are checked as the engine checks them before anything inside is
# read, `current` is read with readlink (never followed), and state files that are symlinks are
# not read. What it reads (history, lock holder) is data: each field is checked against its
# pattern and cut to length, and nothing read is ever run.
#
# EC2D_DEPLOY_DIR is set by the renderer (packages/remote/src/status.ts), validated there.

export LC_ALL=C
export PATH="${PATH:-/usr/bin:/bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
shopt -s nullglob

readonly RELEASE_ID_RE='^[0-9]{8}T[0-9]{9}Z-[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$'
readonly PATH_RE='^(/[A-Za-z0-9._-]+)+$'
readonly TIME_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$'
readonly RUN_URL_RE='^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?/[A-Za-z0-9._~%/-]{0,400}$'
readonly MAX_RELEASES=30 HISTORY_LINE_MAX=4096 HOLDER_MAX=400 TARGET_SHOWN=200
readonly DIR=${EC2D_DEPLOY_DIR:-}

# A JSON string of printable ASCII: anything else is dropped, then the text is cut to $2.
json_text() {
  local s=${1//[!\ -~]/}
  s=${s:0:${2:-200}}
  s=${s//\\/\\\\}
  printf '"%s"' "${s//\"/\\\"}"
}

# Prints the result line and exits 0: the action judges the host from its fields.
report() {
  printf 'DEPLOY_STATUS {%s}\n' "$1"
  exit 0
}

# Why root must not read inside $1 (a symlink, not root's, or writable by others), or nothing.
untrusted() {
  local path=$1 owner mode
  [[ -L $path ]] && { printf '%s is a symlink' "$path"; return; }
  [[ -d $path ]] || { printf '%s is not a directory' "$path"; return; }
  read -r owner mode < <(stat -c '%u %a' -- "$path")
  [[ $owner == "$EUID" ]] || { printf '%s is owned by uid %s' "$path" "$owner"; return; }
  ((8#$mode & 8#022)) && printf '%s is group- or world-writable (mode %s)' "$path" "$mode"
}

# The file's lock as /proc/locks names it (MAJ:MIN:INODE in its spelling), or nothing.
lock_key() {
  local dev inode
  read -r dev inode < <(stat -c '%d %i' -- "$1" 2>/dev/null) || return 0
  [[ $dev =~ ^[0-9]+$ && $inode =~ ^[0-9]+$ ]] || return 0
  printf '%02x:%02x:%s' $(((dev >> 8) & 0xfff)) $(((dev & 0xff) | ((dev >> 12) & 0xfff00))) "$inode"
}

# "lock":{...} when someone holds .deploy/lock (the engine's flock): its holder as written inside.
lock_field() {
  local file=$DIR/.deploy/lock key holder since=''
  [[ -f $file && ! -L $file ]] || return 0
  key=$(lock_key "$file")
  [[ -n $key && -r /proc/locks ]] || return 0
  awk -v key="$key" '$2 == "FLOCK" && $(NF - 2) == key { found = 1 } END { exit !found }' /proc/locks || return 0
  holder=$(head -c "$HOLDER_MAX" -- "$file" 2>/dev/null | tr -cd ' -~')
  [[ $holder =~ \ started\ ([^ ]+) ]] && since=${BASH_REMATCH[1]}
  [[ $since =~ $TIME_RE ]] || since=''

  printf ',"lock":{"holder":%s,"since":%s}' "$(json_text "${holder%"${holder##*[! ]}"}" "$HOLDER_MAX")" "$(json_text "$since")"
}

# VALUE: string field $1 of the JSON line $2 when it matches $3, else ''. No subshell: the
# history may hold a thousand lines.
history_value() {
  local re="\"$1\":\"([^\"\\\\]*)\"" found
  VALUE=''
  [[ $2 =~ $re ]] || return 0
  found=${BASH_REMATCH[1]}
  [[ $found =~ $3 ]] && VALUE=$found
  return 0
}

# "last-deploy":{...} from the last line of .deploy/history.jsonl, each field checked.
last_deploy_field() {
  local file=$DIR/.deploy/history.jsonl line size
  [[ -f $file && ! -L $file ]] || return 0
  size=$(tail -n 1 -- "$file" | wc -c)
  if ((size > HISTORY_LINE_MAX)); then
    printf ',"last-deploy":{"problem":"the last line of the history is %s bytes long"}' "$size"
    return 0
  fi
  line=$(tail -n 1 -- "$file")
  [[ -n $line ]] || return 0
  local field value fields='' re
  for field in time release version run mode status; do
    case $field in
      time) re=$TIME_RE ;;
      release) re=$RELEASE_ID_RE ;;
      version) re='^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$' ;;
      run) re=$RUN_URL_RE ;;
      mode) re='^(deploy|rollback)$' ;;
      status) re='^[a-z-]{1,20}$' ;;
    esac
    history_value "$field" "$line" "$re"
    fields+="${fields:+,}\"$field\":$(json_text "$VALUE" 512)"
  done
  printf ',"last-deploy":{%s}' "$fields"
}

# The statuses the history gives each release (the last line of a release wins).
declare -A STATUS=()
VALUE=''
read_statuses() {
  local file=$DIR/.deploy/history.jsonl line release
  [[ -f $file && ! -L $file ]] || return 0
  while IFS= read -r -n "$HISTORY_LINE_MAX" line; do
    history_value release "$line" "$RELEASE_ID_RE"
    release=$VALUE
    history_value status "$line" '^[a-z-]{1,20}$'
    [[ -n $release && -n $VALUE ]] && STATUS[$release]=$VALUE
  done < <(tail -n 1000 -- "$file")
}

# "live-slot":"blue"|"green" from .deploy/slots (blue-green), or nothing.
slot_field() {
  local file=$DIR/.deploy/slots key value
  [[ -f $file && ! -L $file ]] || return 0
  while IFS='=' read -r -n 200 key value; do
    [[ $key == live && ($value == blue || $value == green) ]] && printf ',"live-slot":"%s"' "$value"
  done < <(head -n 10 -- "$file")
  return 0
}

main() {
  [[ $DIR =~ $PATH_RE && ! $DIR =~ (^|/)\.\.?(/|$) ]] ||
    report "\"problem\":$(json_text "deploy-dir $DIR is not an absolute, normalised path")"
  [[ -e $DIR || -L $DIR ]] || report '"deploy-dir":"missing"'
  local problem dir
  for dir in "$DIR" "$DIR/.deploy" "$DIR/releases"; do
    [[ $dir != "$DIR" && ! -e $dir && ! -L $dir ]] && continue
    problem=$(untrusted "$dir")
    [[ -z $problem ]] || report "\"problem\":$(json_text "$problem; not read")"
  done
  read_statuses
  local fields='"deploy-dir":"present"' target id current='' releases=''
  if target=$(readlink -- "$DIR/current" 2>/dev/null); then
    id=${target#releases/}
    if [[ $target == releases/* && $id =~ $RELEASE_ID_RE && -d $DIR/releases/$id && ! -L $DIR/releases/$id ]]; then
      current=$id
    else
      fields+=",\"current-problem\":$(json_text "current points to '${target:0:TARGET_SHOWN}', which is not a release of the engine" 400)"
    fi
  elif [[ -e $DIR/current ]]; then
    fields+=',"current-problem":"current is not a symlink"'
  fi
  fields+=",\"current\":$(json_text "$current" 200)"
  local all=("$DIR"/releases/*/)
  local first=$((${#all[@]} > MAX_RELEASES ? ${#all[@]} - MAX_RELEASES : 0))
  for dir in "${all[@]:first}"; do
    id=${dir%/}
    id=${id##*/}
    # Staging (.partial) and half-pruned (.pruning) dirs of a running deploy are not releases.
    [[ $id =~ $RELEASE_ID_RE && $id != *.partial && $id != *.pruning && ! -L ${dir%/} ]] || continue
    releases+="${releases:+,}{\"release\":$(json_text "$id"),\"status\":$(json_text "${STATUS[$id]:-}")}"
  done
  fields+=",\"releases\":[$releases]"
  fields+=$(last_deploy_field)
  fields+=$(lock_field)
  fields+=$(slot_field)
  report "$fields"
}

main
