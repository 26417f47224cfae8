"""Runs the real processes the tests, chaos rounds and benchmarks start (raft-cache,
raft-cache-load, the wire-dump proxy, etcd) as an unprivileged user when the tooling runs as
root, as CI and sessions do. Root may do what users cannot (a socket option only root may
set once reset every connection for everyone else, unseen because every test ran as root).

command() prefixes setpriv (util-linux), which switches user and execs the program in place,
so the pid stays the program's (signals, /proc) and it works after `ip netns exec NS` too.
When not root, commands run as they are."""

import os
import pwd
import shutil
import stat

NOBODY = 65534  # nobody / nogroup on Debian, and the kernel's overflow uid


def identity():
    """(uid, gid) the processes run as, or None when they run as we do (we are not root)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("nobody")
        return entry.pw_uid, entry.pw_gid
    except KeyError:
        return NOBODY, NOBODY  # setpriv takes numbers; no passwd entry is needed


def command(args):
    """`args` ([program, arguments...]) to run as the unprivileged user."""
    ids = identity()
    if ids is None:
        return list(args)
    uid, gid = ids
    program = shutil.which(args[0])
    if program:  # A missing one is reported as usual, by setpriv.
        _check_reachable(program, stat.S_IXOTH, "run")
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--", *args]


def writable_dir(path):
    """Creates `path` if missing and gives it to the unprivileged user, who must be able to
    create files in it (a node's --raft-dir, etcd's data). Root still removes it all with
    shutil.rmtree. Its parents must already let that user through: a 0700 directory of
    root's (tempfile.mkdtemp's) does not, so give such a parent with writable_dir first."""
    os.makedirs(path, exist_ok=True)
    ids = identity()
    if ids is not None:
        os.chown(path, *ids)
        _check_reachable(path, stat.S_IWOTH | stat.S_IXOTH, "write in")


def process_uids(pid):
    """The real, effective, saved and filesystem uids of a running process."""
    with open(f"/proc/{pid}/status") as f:
        line = next(line for line in f if line.startswith("Uid:"))
    return [int(n) for n in line.split()[1:]]


def _allowed(path, bits, uid, gid):
    """Whether uid/gid (no supplementary groups) has `bits` (given as the others' bits) on path,
    by its mode: the owner's bits if it owns it, else the group's, else the others'."""
    st = os.stat(path)
    if st.st_uid == uid:
        bits <<= 6
    elif st.st_gid == gid:
        bits <<= 3
    return st.st_mode & bits == bits


def _check_reachable(path, bits, what):
    """Fails early, with the culprit, when the unprivileged user could not reach `path` or
    do `what` with it: otherwise the node would only die with EACCES in its log."""
    uid, gid = identity()
    path = os.path.abspath(path)
    # Through the path as written and through its target (.build/debug is a symlink).
    folders = set()
    for p in (path, os.path.realpath(path)):
        while p != os.path.dirname(p):
            p = os.path.dirname(p)
            folders.add(p)
    for folder in sorted(folders):
        if not _allowed(folder, stat.S_IXOTH, uid, gid):
            raise PermissionError(f"uid {uid} cannot reach {path}: {folder} does not let it through")
    if not _allowed(path, bits, uid, gid):
        raise PermissionError(f"uid {uid} cannot {what} {path}")
