#!/usr/bin/env bash
# Install test of the vsa .deb, on THIS machine, as root (CI runs it from ./test.sh):
#   lintian (no errors) -> apt-get install ./vsa_*.deb -> files, user, permissions, enabled unit
#   -> systemd-analyze verify (when there is one) -> the unit's ExecStart run as the unit would
#   (user vsa, its environment, capabilities, working directory, umask) -> iscsi-ls and nfs-ls
#   reach it, a file goes in over NFS -> stop (exit 0) -> upgrade to a newer build -> the file
#   is still there -> remove (data kept) -> purge (data gone) -> the Ansible role installs and
#   configures it again (second run: changed=0) and its config serves -> purge.
#
# There is no systemd in the container: what the unit says (User, Environment, EnvironmentFile,
# WorkingDirectory, UMask, LimitNOFILE, AmbientCapabilities, NoNewPrivileges, ExecStart) is
# read from the installed unit file and done by hand; the sandboxing options
# (ProtectSystem, PrivateTmp, ...) are not.
#
# The service keeps the unit's command line; its ports are moved to free ones through
# /etc/default/vsa (VSA_OPTS), the file the unit reads, so that 3260, 2049, 111 and 8080 may be busy.
#
# Usage: packaging/test-install.sh [FIRST_DEB [SECOND_DEB]]
#   FIRST_DEB  default: the newest packaging/target/vsa_*_all.deb (built by `mvn package` if none)
#   SECOND_DEB default: built here with `mvn -o ... -Ddeb.version=<first>+upgrade1`
# If the vsa package is installed already, it is purged first. Needs: dpkg, apt-get, lintian,
# libiscsi-bin, libnfs-utils, setpriv, python3, ansible-core (./test.sh installs them).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
UNIT=/usr/lib/systemd/system/vsa.service
CONFIG=/etc/vsa/vsa.yaml
DEFAULTS=/etc/default/vsa
DATA=/var/lib/vsa
IQN=iqn.2026-11.org.vsa:default
START_TIMEOUT=120   # s, from exec to "vsa running"
STOP_TIMEOUT=120    # s, SIGTERM to exit
CLIENT_TIMEOUT=60   # s, per client command
APT_TIMEOUT=600     # s, per apt-get / dpkg / ansible-playbook / mvn
export DEBIAN_FRONTEND=noninteractive

T0=$SECONDS
CHECKS=0
step() { printf '\n== [%3ds] %s\n' "$((SECONDS - T0))" "$*"; }
fail() { echo "test-install: FAIL: $*" >&2; exit 1; }
not() { ! "$@"; }
check() { # check DESCRIPTION COMMAND...: runs the command, fails the test with DESCRIPTION
  local what=$1; shift
  if "$@"; then echo "ok: $what"; CHECKS=$((CHECKS + 1)); else fail "$what"; fi
}

[ "$(id -u)" -eq 0 ] || fail "must run as root (it installs and purges the vsa package)"
# Where systemd runs, the package's postinst starts the real service on the default ports, and
# this test's hand-run copy would fight it for them and for the data directory.
[ ! -d /run/systemd/system ] || fail "systemd runs here: this test is for a container without it \
(there, install the .deb and use systemctl; VSA_SKIP_INSTALL_TEST=1 ./test.sh skips this test)"
for tool in dpkg apt-get dpkg-deb lintian iscsi-ls nfs-ls nfs-cp setpriv python3 ansible-playbook timeout getent; do
  command -v "$tool" >/dev/null || fail "$tool is missing (./test.sh installs what this test needs)"
done

WORK=$(mktemp -d /tmp/vsa-install-test.XXXXXX)
chmod 0755 "$WORK"
SERVICE_PID=""
USER_EXISTED=no
getent passwd vsa >/dev/null && USER_EXISTED=yes
DEFAULTS_EXISTED=no
[ -e "$DEFAULTS" ] && DEFAULTS_EXISTED=yes

# Whether dpkg knows vsa in any state but not-installed (installed, or its config files left).
package_present() {
  local status
  status=$(dpkg-query -W -f='${Status}' vsa 2>/dev/null) || return 1
  case "$status" in *not-installed) return 1;; *) return 0;; esac
}

cleanup() {
  local rc=$?
  set +e
  if [ -n "$SERVICE_PID" ] && kill -0 "$SERVICE_PID" 2>/dev/null; then
    echo "cleanup: killing the service (pid $SERVICE_PID)"
    kill -KILL "$SERVICE_PID" 2>/dev/null
    wait "$SERVICE_PID" 2>/dev/null
  fi
  if package_present; then
    echo "cleanup: purging the vsa package"
    timeout "$APT_TIMEOUT" dpkg --purge vsa >/dev/null 2>&1
  fi
  [ "$DEFAULTS_EXISTED" = yes ] || rm -f "$DEFAULTS"
  rm -rf /var/cache/vsa-deploy
  if [ "$USER_EXISTED" = no ] && getent passwd vsa >/dev/null; then
    echo "cleanup: deleting the vsa user this test created"
    userdel vsa 2>/dev/null
    getent group vsa >/dev/null && groupdel vsa 2>/dev/null
  fi
  rm -rf "$WORK"
  if [ "$rc" -eq 0 ]; then
    printf '\ntest-install: PASS, %d checks in %ds\n' "$CHECKS" "$((SECONDS - T0))"
  else
    printf '\ntest-install: FAIL (exit %d) after %ds\n' "$rc" "$((SECONDS - T0))" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the packages ------------------------------------------------------------------------

FIRST_DEB=${1:-}
if [ -z "$FIRST_DEB" ]; then
  FIRST_DEB=$(ls -t "$ROOT"/packaging/target/vsa_*_all.deb 2>/dev/null | grep -v '+upgrade' | head -n 1 || true)
  if [ -z "$FIRST_DEB" ]; then
    step "no .deb in packaging/target: building it"
    timeout "$APT_TIMEOUT" mvn -B -q -o -Dstyle.color=never -f "$ROOT/pom.xml" -pl packaging -am package -DskipTests
    FIRST_DEB=$(ls -t "$ROOT"/packaging/target/vsa_*_all.deb | grep -v '+upgrade' | head -n 1)
  fi
fi
[ -f "$FIRST_DEB" ] || fail "no package $FIRST_DEB"
cp "$FIRST_DEB" "$WORK/"
FIRST_DEB="$WORK/$(basename "$FIRST_DEB")"
V1=$(dpkg-deb -f "$FIRST_DEB" Version)

SECOND_DEB=${2:-}
if [ -z "$SECOND_DEB" ]; then
  V2="$V1+upgrade1"
  step "building a newer package, version $V2 (mvn -o -Ddeb.version=$V2)"
  timeout "$APT_TIMEOUT" mvn -B -q -o -Dstyle.color=never -f "$ROOT/pom.xml" -pl packaging -am package -DskipTests "-Ddeb.version=$V2"
  SECOND_DEB="$ROOT/packaging/target/vsa_${V2}_all.deb"
fi
[ -f "$SECOND_DEB" ] || fail "no package $SECOND_DEB"
cp "$SECOND_DEB" "$WORK/"
SECOND_DEB="$WORK/$(basename "$SECOND_DEB")"
V2=$(dpkg-deb -f "$SECOND_DEB" Version)
check "upgrade package $V2 sorts after $V1" dpkg --compare-versions "$V2" gt "$V1"
check "version $V1 is a snapshot that sorts before the release ${V1%%~*}" \
  sh -c "case '$V1' in *~*) dpkg --compare-versions '$V1' lt '${V1%%~*}';; *) true;; esac"

if package_present; then
  step "vsa is installed on this machine: purging it first"
  timeout "$APT_TIMEOUT" dpkg --purge vsa
fi

# --- lintian -----------------------------------------------------------------------------

step "lintian $(basename "$FIRST_DEB")"
# Errors fail the test; warnings and infos are printed (README: "lintian" explains them).
lintian_rc=0
timeout "$APT_TIMEOUT" lintian --fail-on error --display-info --pedantic "$FIRST_DEB" >"$WORK/lintian.txt" 2>&1 || lintian_rc=$?
grep -v 'running with root privileges' "$WORK/lintian.txt" || true
[ "$lintian_rc" -eq 0 ] || fail "lintian reports errors (exit status $lintian_rc)"
echo "ok: lintian: no errors ($(grep -c '^[WIP]:' "$WORK/lintian.txt" || true) warnings/infos above)"

# --- install -----------------------------------------------------------------------------

step "apt-get install $FIRST_DEB"
timeout "$APT_TIMEOUT" apt-get install -y -q "$FIRST_DEB" >"$WORK/apt-install.log" 2>&1 \
  || { cat "$WORK/apt-install.log"; fail "apt-get install of the package"; }
check "dpkg: vsa $V1 installed" test "$(dpkg-query -W -f='${Status} ${Version}' vsa)" = "install ok installed $V1"

mode_owner() { stat -c '%a %U:%G' "$1"; }
check "jar /usr/share/vsa/vsa.jar 644 root:root" test "$(mode_owner /usr/share/vsa/vsa.jar)" = "644 root:root"
check "launcher /usr/bin/vsa 755 root:root" test "$(mode_owner /usr/bin/vsa)" = "755 root:root"
check "config $CONFIG 640 root:vsa" test "$(mode_owner "$CONFIG")" = "640 root:vsa"
check "config is a conffile" sh -c "dpkg-query -W -f='\${Conffiles}' vsa | grep -q ' $CONFIG '"
check "unit $UNIT 644 root:root" test "$(mode_owner "$UNIT")" = "644 root:root"
check "data dir $DATA 750 vsa:vsa" test "$(mode_owner "$DATA")" = "750 vsa:vsa"
check "man page" test -f /usr/share/man/man1/vsa.1.gz
check "copyright and changelog" test -f /usr/share/doc/vsa/copyright -a -f /usr/share/doc/vsa/changelog.gz
IFS=: read -r _ _ VSA_UID VSA_GID _ VSA_HOME VSA_SHELL < <(getent passwd vsa)
check "user vsa is a system user (uid $VSA_UID < 1000)" test "$VSA_UID" -lt 1000
check "user vsa's group is vsa" test "$(getent group "$VSA_GID" | cut -d: -f1)" = vsa
check "user vsa's home is $DATA" test "$VSA_HOME" = "$DATA"
check "user vsa has no login shell ($VSA_SHELL)" sh -c "case '$VSA_SHELL' in */nologin|*/false) true;; *) false;; esac"
check "unit enabled (multi-user.target.wants)" \
  test "$(readlink -f /etc/systemd/system/multi-user.target.wants/vsa.service)" = "$(readlink -f "$UNIT")"
check "vsa --version as user vsa prints $V1's Maven version" \
  sh -c "setpriv --reuid=vsa --regid=vsa --init-groups /usr/bin/vsa --version | grep -q '^vsa '"
check "vsa config check accepts the shipped $CONFIG (as user vsa)" \
  sh -c "setpriv --reuid=vsa --regid=vsa --init-groups /usr/bin/vsa config check $CONFIG | grep -q '^config OK: $CONFIG '"
printf 'writeBuffer:\n  capacity: 1MiB\n' >"$WORK/bad.yaml"
check "vsa config check refuses a bad config with exit 2 and the key's name" \
  sh -c "/usr/bin/vsa config check '$WORK/bad.yaml' 2>&1 >/dev/null | grep -q '^config error: writeBuffer.capacity = 1MiB is out of range'; test \$? -eq 0 && { /usr/bin/vsa config check '$WORK/bad.yaml' >/dev/null 2>&1; test \$? -eq 2; }"

if command -v systemd-analyze >/dev/null; then
  step "systemd-analyze verify $UNIT"
  # Without a running systemd, verify still parses the unit and checks its directives and
  # the ExecStart binary; any line that names the unit is a finding.
  timeout "$CLIENT_TIMEOUT" systemd-analyze verify "$UNIT" >"$WORK/verify.txt" 2>&1 || true
  cat "$WORK/verify.txt"
  if grep -q 'vsa.service' "$WORK/verify.txt"; then
    fail "systemd-analyze verify reports problems in vsa.service"
  fi
  echo "ok: systemd-analyze verify: nothing about vsa.service"
else
  step "systemd-analyze is not installed here: unit not verified"
fi

# --- the service, run as the unit says ---------------------------------------------------

read -r ISCSI_PORT NFS_PORT MOUNT_PORT DTL_PORT MGMT_PORT < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(5)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])
for s in ss: s.close()')
NFS_URL="nfs://127.0.0.1/default/?nfsport=$NFS_PORT&mountport=$MOUNT_PORT&version=3"
FILE_URL="nfs://127.0.0.1/default/kept.img?nfsport=$NFS_PORT&mountport=$MOUNT_PORT&version=3"
ISCSI_URL="iscsi://127.0.0.1:$ISCSI_PORT"

set_test_ports() { # the admin's way to add flags: /etc/default/vsa, read by the unit
  cat >"$DEFAULTS" <<EOF
# written by packaging/test-install.sh: ports moved off 3260/2049/20048/26100/111/8080
VSA_OPTS="--iscsi-port $ISCSI_PORT --nfs-port $NFS_PORT --mount-port $MOUNT_PORT --dtl-port $DTL_PORT --mgmt-port $MGMT_PORT --portmap none"
EOF
}

unit_key() { sed -n "s/^$1=//p" "$UNIT"; }

# Starts the unit's ExecStart in the background as the unit would; SERVICE_PID, log in $1.
start_service() {
  local log=$1 user group wd umask_ nofile caps hard env_words=() exec_line
  user=$(unit_key User); group=$(unit_key Group); wd=$(unit_key WorkingDirectory)
  umask_=$(unit_key UMask); nofile=$(unit_key LimitNOFILE)
  caps=$(unit_key AmbientCapabilities | tr 'A-Z' 'a-z' | sed 's/cap_//g; s/ /,+/g')
  hard=$(ulimit -Hn)
  if [ "$nofile" -gt "$hard" ]; then
    echo "note: LimitNOFILE=$nofile is above this container's hard limit $hard: running with $hard"
    nofile=$hard
  fi
  # Environment= lines, then EnvironmentFile= (a leading '-': optional), as systemd orders them.
  local line
  while IFS= read -r line; do
    eval "env_words+=($line)"
  done < <(unit_key Environment)
  while IFS= read -r line; do
    local f=${line#-}
    if [ -r "$f" ]; then
      while IFS= read -r kv; do
        case "$kv" in ''|'#'*) continue;; esac
        eval "env_words+=($kv)"
      done <"$f"
    elif [ "$f" = "$line" ]; then
      fail "EnvironmentFile $f is missing"
    fi
  done < <(unit_key EnvironmentFile)
  exec_line=$(unit_key ExecStart)
  echo "ExecStart: $exec_line"
  echo "as $user:$group in $wd, umask $umask_, nofile $nofile, ambient caps +$caps, env: ${env_words[*]}"
  (
    cd "$wd"
    umask "$umask_"
    ulimit -n "$nofile"
    # expand $VAR in ExecStart from the unit's environment, split like systemd does
    for kv in "${env_words[@]}"; do export "${kv?}"; done
    eval "set -- $exec_line"
    exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
      HOME="$(getent passwd "$user" | cut -d: -f6)" USER="$user" LOGNAME="$user" "${env_words[@]}" \
      setpriv --reuid="$user" --regid="$group" --init-groups --no-new-privs \
        --inh-caps="-all,+$caps" --ambient-caps="-all,+$caps" --bounding-set="-all,+$caps" -- "$@"
  ) >"$log" 2>&1 &
  SERVICE_PID=$!
  local deadline=$((SECONDS + START_TIMEOUT))
  until grep -q 'vsa running: ' "$log"; do
    if ! kill -0 "$SERVICE_PID" 2>/dev/null; then
      cat "$log"; wait "$SERVICE_PID" || true; SERVICE_PID=""
      fail "the service exited during start"
    fi
    [ "$SECONDS" -lt "$deadline" ] || { cat "$log"; fail "the service did not start within ${START_TIMEOUT}s"; }
    sleep 0.3
  done
  grep 'vsa running: ' "$log"
  check "the service runs as user $user" test "$(stat -c %U "/proc/$SERVICE_PID")" = "$user"
}

# SIGTERM, as systemctl stop sends; the exit status must be 0 (every vDisk flushed).
stop_service() {
  local log=$1 deadline=$((SECONDS + STOP_TIMEOUT)) rc=0
  kill -TERM "$SERVICE_PID"
  while kill -0 "$SERVICE_PID" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || { cat "$log"; fail "the service did not stop within ${STOP_TIMEOUT}s of SIGTERM"; }
    sleep 0.3
  done
  wait "$SERVICE_PID" || rc=$?
  SERVICE_PID=""
  [ "$rc" -eq 0 ] || { cat "$log"; fail "the service exited with status $rc on SIGTERM"; }
  echo "ok: stopped by SIGTERM, exit status 0"
}

client() { timeout "$CLIENT_TIMEOUT" "$@"; }

reach_with_clients() {
  local out
  out=$(client iscsi-ls -s "$ISCSI_URL") || fail "iscsi-ls $ISCSI_URL"
  echo "$out"
  check "iscsi-ls sees target $IQN" grep -q "$IQN" <<<"$out"
  check "iscsi-ls sees LUN 0" grep -q 'Lun:0' <<<"$out"
  out=$(client nfs-ls "$NFS_URL") || fail "nfs-ls $NFS_URL"
  echo "$out"
  check "nfs-ls lists demo.raw in /default" grep -q 'demo.raw' <<<"$out"
}

step "start the service as vsa.service would (ports $ISCSI_PORT/$NFS_PORT/$MOUNT_PORT/$DTL_PORT through $DEFAULTS)"
set_test_ports
start_service "$WORK/run1.log"
reach_with_clients
head -c $((3 * 1024 * 1024 + 512)) /dev/urandom >"$WORK/kept.img"
client nfs-cp "$WORK/kept.img" "$FILE_URL" >/dev/null || fail "nfs-cp a file in"
client nfs-cp "$FILE_URL" "$WORK/back1.img" >/dev/null || fail "nfs-cp the file back"
check "the file read back over NFS equals the one written" cmp -s "$WORK/kept.img" "$WORK/back1.img"
check "the admin credential was created 600 vsa:vsa" test "$(mode_owner "$DATA/admin.credential")" = "600 vsa:vsa"
check "vsa vdisk list (as root, credential and URL from $DATA) lists demo" \
  bash -c "timeout $CLIENT_TIMEOUT /usr/bin/vsa vdisk list --data-dir $DATA | grep -q '^demo '"
check "nothing under $DATA is readable by others (UMask)" test -z "$(find "$DATA" -perm -o=r -print -quit)"
check "everything under $DATA belongs to vsa" test -z "$(find "$DATA" ! -user vsa -print -quit)"
stop_service "$WORK/run1.log"

# --- upgrade -----------------------------------------------------------------------------

step "upgrade: apt-get install $(basename "$SECOND_DEB")"
CONFIG_SUM=$(sha256sum "$CONFIG")
timeout "$APT_TIMEOUT" apt-get install -y -q "$SECOND_DEB" >"$WORK/apt-upgrade.log" 2>&1 \
  || { cat "$WORK/apt-upgrade.log"; fail "apt-get install of the newer package"; }
check "dpkg: vsa $V2 installed" test "$(dpkg-query -W -f='${Status} ${Version}' vsa)" = "install ok installed $V2"
check "config unchanged by the upgrade" test "$(sha256sum "$CONFIG")" = "$CONFIG_SUM"
check "config still 640 root:vsa" test "$(mode_owner "$CONFIG")" = "640 root:vsa"
check "data dir still 750 vsa:vsa" test "$(mode_owner "$DATA")" = "750 vsa:vsa"
start_service "$WORK/run2.log"
reach_with_clients
client nfs-cp "$FILE_URL" "$WORK/back2.img" >/dev/null || fail "nfs-cp the file back after the upgrade"
check "the file written before the upgrade is intact" cmp -s "$WORK/kept.img" "$WORK/back2.img"
stop_service "$WORK/run2.log"

# --- remove, purge -----------------------------------------------------------------------

step "apt-get remove vsa"
timeout "$APT_TIMEOUT" apt-get remove -y -q vsa >"$WORK/apt-remove.log" 2>&1 \
  || { cat "$WORK/apt-remove.log"; fail "apt-get remove"; }
check "dpkg: removed, config files kept" test "$(dpkg-query -W -f='${Status}' vsa)" = "deinstall ok config-files"
check "program gone" test ! -e /usr/share/vsa/vsa.jar -a ! -e /usr/bin/vsa -a ! -e "$UNIT"
check "config kept" test -f "$CONFIG"
check "data kept: $DATA/namespace and $DATA/writebuffer" test -d "$DATA/namespace" -a -d "$DATA/writebuffer"
check "data kept: still owned by vsa" test "$(mode_owner "$DATA")" = "750 vsa:vsa"

step "apt-get purge vsa"
timeout "$APT_TIMEOUT" apt-get purge -y -q vsa >"$WORK/apt-purge.log" 2>&1 \
  || { cat "$WORK/apt-purge.log"; fail "apt-get purge"; }
check "dpkg: purged" not package_present
check "data gone: $DATA" test ! -e "$DATA"
check "config gone: /etc/vsa" test ! -e /etc/vsa
check "statoverride gone" not dpkg-statoverride --list "$CONFIG"
check "enablement symlink gone" test ! -e /etc/systemd/system/multi-user.target.wants/vsa.service -a ! -L /etc/systemd/system/multi-user.target.wants/vsa.service
check "user vsa kept (files elsewhere may still be its)" getent passwd vsa
[ "$DEFAULTS_EXISTED" = yes ] || rm -f "$DEFAULTS"

# --- ansible -----------------------------------------------------------------------------

ANSIBLE_DIR="$HERE/ansible"
run_playbook() {
  local log=$1
  ( cd "$ANSIBLE_DIR" && ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 timeout "$APT_TIMEOUT" \
      ansible-playbook -c local -i tests/localhost.ini site.yml \
        -e @tests/ci-vars.yml -e "vsa_deb=$SECOND_DEB" \
        -e "vsa_iscsi_port=$ISCSI_PORT" -e "vsa_nfs_port=$NFS_PORT" -e "vsa_nfs_mount_port=$MOUNT_PORT" -e "vsa_dtl_port=$DTL_PORT" \
        -e "vsa_mgmt_port=$MGMT_PORT" ) \
    >"$log" 2>&1 || { cat "$log"; fail "ansible-playbook"; }
  sed -n '/PLAY RECAP/,$p' "$log"
}
step "ansible-playbook -c local (first run: installs and configures)"
run_playbook "$WORK/ansible1.log"
check "first run changed something" grep -Eq 'localhost +: ok=[0-9]+ +changed=[1-9]' "$WORK/ansible1.log"
check "first run failed nothing" grep -Eq 'localhost +: .*unreachable=0 +failed=0' "$WORK/ansible1.log"
check "the role installed vsa $V2" test "$(dpkg-query -W -f='${Status} ${Version}' vsa)" = "install ok installed $V2"
check "the role's config is 640 root:vsa" test "$(mode_owner "$CONFIG")" = "640 root:vsa"
check "the role's config names the node after its inventory name" grep -q '^  name: localhost$' "$CONFIG"

step "ansible-playbook -c local (second run: must change nothing)"
run_playbook "$WORK/ansible2.log"
check "second run: changed=0 failed=0 (idempotent)" \
  grep -Eq 'localhost +: ok=[0-9]+ +changed=0 +unreachable=0 +failed=0' "$WORK/ansible2.log"

step "ansible-playbook -c local with a value vsa refuses: the task fails, the config stays"
CONFIG_SUM2=$(sha256sum "$CONFIG")
( cd "$ANSIBLE_DIR" && ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 timeout "$APT_TIMEOUT" \
    ansible-playbook -c local -i tests/localhost.ini site.yml \
      -e @tests/ci-vars.yml -e "vsa_deb=$SECOND_DEB" -e vsa_write_buffer_capacity=1MiB \
      -e "vsa_iscsi_port=$ISCSI_PORT" -e "vsa_nfs_port=$NFS_PORT" -e "vsa_nfs_mount_port=$MOUNT_PORT" -e "vsa_dtl_port=$DTL_PORT" \
      -e "vsa_mgmt_port=$MGMT_PORT" ) \
  >"$WORK/ansible3.log" 2>&1 && { cat "$WORK/ansible3.log"; fail "ansible-playbook accepted writeBuffer.capacity 1MiB"; }
check "the failed run names vsa's error" grep -q 'writeBuffer.capacity = 1MiB is out of range' "$WORK/ansible3.log"
check "the failed run left the config as it was" test "$(sha256sum "$CONFIG")" = "$CONFIG_SUM2"

step "the role's configuration serves"
start_service "$WORK/run3.log"
reach_with_clients
stop_service "$WORK/run3.log"

step "purge after the Ansible run"
timeout "$APT_TIMEOUT" apt-get purge -y -q vsa >"$WORK/apt-purge2.log" 2>&1 \
  || { cat "$WORK/apt-purge2.log"; fail "apt-get purge"; }
check "data gone: $DATA" test ! -e "$DATA"
