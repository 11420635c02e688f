#!/bin/sh
# ec2-deploy-actions host bootstrap: makes this host run the environment's desired release.
# It reads s3://$EC2D_BUCKET/$EC2D_APP/$EC2D_ENVIRONMENT/desired.json with the host's own
# credentials, downloads the engine script that desired.json names, checks its sha256, and
# runs it: the same AWS-RunShellScript body the deploy sent. A host already on that release
# takes the engine's no-op path; another one switches through the health gate (and rolls back).
# POSIX sh: it runs as EC2 user data (bash), under SSM's sh (dash) and by hand, as root, with
# no HOME and a minimal PATH. EC2D_BUCKET, EC2D_APP and EC2D_ENVIRONMENT are set above it.
set -u
umask 077
LC_ALL=C
export LC_ALL
# Where the AWS CLI lives on Amazon Linux, Ubuntu (snap) and with its own installer.
PATH=$PATH:/usr/local/bin:/usr/bin:/bin:/snap/bin
export PATH

# Failed before the engine ran: nothing on the host was touched.
EXIT_REFUSED=12

refuse() {
  printf 'bootstrap: %s; nothing was run\n' "$1" >&2
  exit "$EXIT_REFUSED"
}

for tool in aws sed grep sha256sum mktemp; do
  command -v "$tool" >/dev/null 2>&1 || refuse "required tool '$tool' is not installed"
done

prefix="$EC2D_APP/$EC2D_ENVIRONMENT"
desired_uri="s3://$EC2D_BUCKET/$prefix/desired.json"

work=$(mktemp -d "${TMPDIR:-/tmp}/ec2d-bootstrap.XXXXXXXXXX") || refuse 'cannot create a temp dir'
trap 'rm -rf -- "$work"' EXIT
trap 'exit 143' HUP INT TERM
chmod 700 "$work" || refuse "cannot make $work root-only"

if ! aws s3 cp --only-show-errors "$desired_uri" - >"$work/desired.json" 2>"$work/error" </dev/null; then
  if grep -q -e '(404)' -e 'NoSuchKey' "$work/error"; then
    echo "bootstrap: $desired_uri does not exist yet: nothing to converge to"
    exit 0
  fi
  sed -n '1,5p' "$work/error" >&2
  refuse "cannot read $desired_uri with this host's credentials (with no s3:ListBucket, S3 answers 403 for a missing key too)"
fi

# desired.json is one line of JSON that the deploy wrote; read it as hostile all the same.
if [ "$(wc -l <"$work/desired.json")" -gt 1 ] || [ "$(wc -c <"$work/desired.json")" -gt 16384 ]; then
  refuse "$desired_uri is not one line of at most 16384 bytes"
fi

# The value of the string field $1, when it appears exactly once and matches the pattern $2.
field() {
  matches=$(grep -o -e "\"$1\":\"[^\"]*\"" "$work/desired.json" | wc -l)
  [ "$matches" -eq 1 ] || refuse "$desired_uri has $matches '$1' fields, not one string"
  value=$(sed -n -e "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" "$work/desired.json")
  printf '%s\n' "$value" | grep -q -x -E -e "$2" ||
    refuse "$desired_uri: field '$1' is not valid (allowed: $2)"
  printf '%s' "$value"
}

version=$(field version '[A-Za-z0-9][A-Za-z0-9._+-]{0,127}') || exit $?
engine_sha256=$(field engine-sha256 '[0-9a-f]{64}') || exit $?
engine_key=$(field engine-key '[A-Za-z0-9._/-]{1,1024}') || exit $?
[ "$engine_key" = "$prefix/engine/$engine_sha256.sh" ] ||
  refuse "$desired_uri: field 'engine-key' is not $prefix/engine/<engine-sha256>.sh"

echo "bootstrap: desired release of $prefix is $version (engine $engine_sha256)"
aws s3 cp --only-show-errors "s3://$EC2D_BUCKET/$engine_key" "$work/engine.sh" </dev/null ||
  refuse "cannot download s3://$EC2D_BUCKET/$engine_key"
printf '%s  %s\n' "$engine_sha256" "$work/engine.sh" | sha256sum -c --status - ||
  refuse "s3://$EC2D_BUCKET/$engine_key does not match its sha256 $engine_sha256"

# The engine prints its phases and, last, its DEPLOY_RESULT line; its exit code is ours.
status=0
sh "$work/engine.sh" </dev/null || status=$?
exit "$status"
